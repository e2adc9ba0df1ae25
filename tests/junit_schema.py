"""Every JUnit report a test reads is first validated against tests/junit-10.xsd with a
real XSD validator (xmlschema)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import xmlschema

SCHEMA_FILE = Path(__file__).with_name("junit-10.xsd")


@cache
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_FILE))


def valid_report(path: Path) -> ET.Element:
    """The report's root, once the validator has accepted it (else the test fails, naming why)."""
    junit_schema().validate(str(path))
    return ET.parse(path).getroot()


def valid_xml(root: ET.Element) -> ET.Element:
    """An element tree the validator accepts, re-parsed from its text."""
    text = ET.tostring(root, encoding="unicode")
    junit_schema().validate(text)
    return ET.fromstring(text)
