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


def plot_history(histories: Mapping[str, object], metric: str | None = "accuracy",
                 title: str | None = None, log_loss: bool = False):
    """Plot training (dashed) and validation (solid) curves for one or more runs.

    ``histories`` maps a label to a ``keras.callbacks.History`` (or its ``.history``
    dict). Draws the loss and ``metric`` side by side, or the loss alone when
    ``metric`` is None or "loss"; returns the figure. Epochs are whole numbers on the
    x axis; ``log_loss=True`` puts the loss on a log scale, so that one run with a
    much larger loss does not flatten the others.
    """
    keys = ("loss",) if metric in (None, "loss") else ("loss", metric)
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 3.8), squeeze=False)
    axes = axes[0]
    for (label, history), color in zip(histories.items(), plt.cm.tab10.colors):
        hist = getattr(history, "history", history)
        for ax, key in zip(axes, keys):
            if key not in hist:
                raise KeyError(f"history {label!r} has no {key!r}; it has {sorted(hist)}")
            epochs = np.arange(1, len(hist[key]) + 1)
            ax.plot(epochs, hist[key], "--", color=color, label=f"{label} (train)")
            if f"val_{key}" in hist:
                ax.plot(epochs, hist[f"val_{key}"], "-", color=color, label=f"{label} (validation)")
    for ax, key in zip(axes, keys):
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"{key} (log scale)" if key == "loss" and log_loss else key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if key == "loss" and log_loss:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

