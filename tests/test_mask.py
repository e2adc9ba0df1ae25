"""mask(): a secret is shown as its length in stars, but for its last 4 characters when long."""

from __future__ import annotations

import pytest

from bulkctl.config import mask


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        (None, ""),
        ("", ""),
        ("a", "*"),
        ("abcd", "****"),
        ("abcdefgh", "********"),  # 8 or fewer: nothing of it shown
        ("abcdefghi", "*****fghi"),  # 9: the first 5 hidden, the last 4 shown
        ("sk-live-123456789", "*************6789"),
        ("ünïcødé-секрет", "**********крет"),
    ],
)
def test_mask_shows_exactly_the_last_four_of_a_long_secret(secret: str | None, shown: str) -> None:
    assert mask(secret) == shown


@pytest.mark.parametrize("length", [9, 10, 40, 300])
def test_mask_hides_every_character_but_the_last_four(length: int) -> None:
    secret = "".join(chr(ord("A") + i % 26) for i in range(length))
    masked = mask(secret)
    assert len(masked) == len(secret)
    assert masked[:-4] == "*" * (length - 4)
    assert masked[-4:] == secret[-4:]
    assert secret[: length - 4] not in masked  # the hidden part leaks nowhere
