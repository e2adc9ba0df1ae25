"""Waiting for bulks to end: the polling engine (``polling``), the wait loop (``wait``), what
it learned (``outcomes``), and its outputs: progress lines or the live table (``progress``),
the JUnit report (``junit``) and GitHub's annotations and step summary (``github``)."""
