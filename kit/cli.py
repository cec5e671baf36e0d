"""The scripts' shared argparse pieces."""

from __future__ import annotations

import argparse
import textwrap


class DefaultOnceHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" to an option's help only where it tells something: not when the help already states
    its default (a default resolved at run time, such as the region's), and not for None or a store_true's False,
    which argparse's own formatter prints as "(default: None)" beside the help's own words."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or action.default is None or action.default is False:
            return text
        return super()._get_help_string(action)

    def _split_lines(self, text: str, width: int) -> list[str]:
        """As argparse's, without breaking at hyphens: `us-east-1` and `/aws/service/aws-sdk-pandas/...` stay whole."""
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(
            " ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
        )
