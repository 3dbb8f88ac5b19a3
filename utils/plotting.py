"""Figures the lessons share: image grids and learning curves (lesson 02 onwards)."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


def show_images(
    images,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    size: float = 1.4,
    cmap: str = "gray",
    suptitle: str | None = None,
):
    """Show images in a grid with optional titles; returns the figure.

    ``images`` is an array (N, H, W) or (N, H, W, C), or a list of such images.
    Colour images with values outside [0, 1] are rescaled per image for display.
    """
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = min(ncols, len(images))
    nrows = int(np.ceil(len(images) / ncols))
    title_room = 0.45 if titles is not None else 0.1  # inches above each image for its title
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + title_room)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= len(images):
            continue
        img = np.asarray(images[i])
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        if img.ndim == 3 and (img.min() < 0 or img.max() > 1) and img.dtype != np.uint8:
            img = (img - img.min()) / max(float(img.max() - img.min()), 1e-12)
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


RUN_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_history(histories: Mapping[str, object], metric: str | None = "accuracy",
                 title: str | None = None, log_loss: bool = False):
    """Plot training (dashed) and validation (solid) curves for one or more runs.

    ``histories`` maps a label to a ``keras.callbacks.History`` (or its ``.history``
    dict). Draws the loss and ``metric`` side by side, or the loss alone when
    ``metric`` is None or "loss"; returns the figure. Epochs are whole numbers on the
    x axis; ``log_loss=True`` puts the loss on a log scale, so that one run with a
    much larger loss does not flatten the others.

    Runs are told apart by marker shape as well as colour (hollow markers on the
    training curve, filled on the validation curve), so the figure reads in grey; the
    legend, below the panels, names each run once and the two line styles once.
    """
    from matplotlib.lines import Line2D

    keys = ("loss",) if metric in (None, "loss") else ("loss", metric)
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 3.8), squeeze=False)
    axes = axes[0]
    handles = []
    for k, (label, history) in enumerate(histories.items()):
        hist = getattr(history, "history", history)
        color = plt.cm.tab10.colors[k % 10]
        marker = RUN_MARKERS[k % len(RUN_MARKERS)]
        for ax, key in zip(axes, keys):
            if key not in hist:
                raise KeyError(f"history {label!r} has no {key!r}; it has {sorted(hist)}")
            epochs = np.arange(1, len(hist[key]) + 1)
            every = max(1, len(epochs) // 8)
            start = (k * max(1, every // 3)) % every   # runs' markers at different epochs
            ax.plot(epochs, hist[key], "--", color=color, marker=marker, markevery=(start, every),
                    markersize=5, mfc="white", label=f"{label} (train)")
            if f"val_{key}" in hist:
                ax.plot(epochs, hist[f"val_{key}"], "-", color=color, marker=marker,
                        markevery=((start + every // 2) % every, every), markersize=5, label=f"{label} (validation)")
        handles.append(Line2D([], [], color=color, marker=marker, ls="-", label=label))
    for ax, key in zip(axes, keys):
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{key} (log scale)" if key == "loss" and log_loss else key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if key == "loss" and log_loss:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles += [Line2D([], [], color="black", ls="--", marker="o", mfc="white", label="training"),
                Line2D([], [], color="black", ls="-", marker="o", label="validation")]
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    rows = int(np.ceil(len(handles) / 4))
    fig.subplots_adjust(bottom=0.13 + 0.07 * rows)
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=8,
               frameon=False)
    return fig

