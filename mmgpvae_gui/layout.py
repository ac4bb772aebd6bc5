"""Where the main window's panels sit: the data and model column on the left; on the right,
tabs for training with the two views, and for model selection."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget


def splitter(orientation: Qt.Orientation, widgets: list[QWidget], sizes: list[int]) -> QSplitter:
    s = QSplitter(orientation)
    for w in widgets:
        s.addWidget(w)
    s.setSizes(sizes)
    return s


def compose(win, tabs: QTabWidget) -> QWidget:
    """The window's central widget, from the panels ``win`` holds; ``tabs`` gets two pages."""
    left = QWidget()
    column = QVBoxLayout(left)
    column.addWidget(win.data_panel)
    column.addWidget(win.model_panel)
    scroll = QScrollArea()
    scroll.setWidget(left)
    scroll.setWidgetResizable(True)
    scroll.setMinimumWidth(300)
    H, V = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
    views = splitter(H, [win.reconstruction_panel, win.latent_panel], [700, 500])
    tabs.setDocumentMode(True)
    tabs.addTab(splitter(V, [win.training_panel, views], [330, 620]), "Training and views")
    tabs.addTab(win.model_selection_panel, "Model selection")
    tabs.setTabToolTip(1, "Cross-validate latent splits, then load the chosen fit (or its split)")
    main = splitter(H, [scroll, tabs], [320, 1280])
    main.setStretchFactor(1, 1)
    return main
