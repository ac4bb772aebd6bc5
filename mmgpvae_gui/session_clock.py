"""A continuous session (no trials) on one clock in both views.

The reconstruction and latent views each have a session-time scrubber once the data are a
continuous session (``continuous.is_continuous``); this links them (moving one moves the other),
and, once a fit has ended or a project is open, replaces the windows' own latents in the latent
view by the stitched session latents (``continuous.continuous_latents``: half-overlapping
windows, no seams). Stitching runs off the GUI thread through the window's ``host.live``.
"""

from __future__ import annotations

from mmgpvae_core.continuous import continuous_latents, is_continuous
from mmgpvae_core.data import Dataset
from mmgpvae_gui.host import Host
from mmgpvae_gui.panels.latent_panel import LatentPanel
from mmgpvae_gui.panels.reconstruction_panel import ReconstructionPanel
from mmgpvae_gui.widgets.time_scrubber import session_clock


class SessionClock:
    """Keeps the two views of a continuous session on the same stretch of session time."""

    def __init__(
        self,
        reconstruction: ReconstructionPanel,
        latents: LatentPanel,
        host: Host,
    ) -> None:
        self._latents, self._live, self._report = latents, host.live, host.report
        reconstruction.view_changed.connect(latents.set_view)
        latents.view_changed.connect(reconstruction.set_view)

    def show_data(self, neural: Dataset | None) -> None:
        """New data: the latent view scrubs session time for a continuous session."""
        clock = session_clock(neural)
        self._latents.set_session_time(*(clock or (None, 0)))

    def show_model(self, model) -> None:
        """A fit has ended, or a project is open: stitch the session's latents (continuous
        sessions only; after the view has the model's own latents)."""
        if model is None or model.neural is None or not is_continuous(model.neural):
            return
        try:
            lat = self._live("Stitching the session's latents…", lambda: continuous_latents(model))
        except Exception as exc:  # the windows' own latents stay shown
            self._report("Cannot stitch the session's latents", str(exc))
            return
        self._latents.set_continuous_latents(lat)
