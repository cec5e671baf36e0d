"""Charts for the notebooks: labelled axes, and an image with alt text (so a screen reader and the HTML export say
what it shows)."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd
from IPython.display import HTML
from matplotlib.figure import Figure  # a Figure of its own renders to PNG without touching pyplot's state
from matplotlib.ticker import MaxNLocator


def bar_chart(
    frame: pd.DataFrame, *, x: str, y: str, title: str, xlabel: str, ylabel: str, alt: str, horizontal: bool = False
) -> HTML:
    """A bar chart of `frame[y]` by `frame[x]`, shown as a PNG with `alt` as its alternative text."""
    figure = Figure(figsize=(7, 3.2 if not horizontal else 0.35 * len(frame) + 1))
    axes = figure.subplots()
    if horizontal:
        axes.barh(frame[x].astype(str), frame[y])
        axes.invert_yaxis()
    else:
        axes.bar(frame[x].astype(str), frame[y])
    (axes.xaxis if horizontal else axes.yaxis).set_major_locator(MaxNLocator(integer=True))  # counts are whole
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return HTML(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">')
