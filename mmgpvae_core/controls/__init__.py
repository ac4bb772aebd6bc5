"""Controls for a shared latent space: is the shared structure real, and is it stable?

Null test (``mmgpvae null-test``)
---------------------------------
Would the model have found "shared" structure anyway? Fit the real pairing of neural and behavior
trials, then refit with the behavior trials re-paired at random, and score every fit the same way:
by *cross-modal* prediction of held-out trials — behavior from the neural data alone plus the
neural data from the behavior alone (``cross_behavior + cross_neural``, nats per held-out trial:
the two cross-modal terms of the sweep's selection score, :mod:`mmgpvae_core.sweep`). Folds,
fitting and execution (local processes or Ray) are the sweep's. A re-paired data set has the same
neural data and the same behavior data, only the trial-by-trial correspondence is broken, so a
model fitted to it can predict across modalities only what the re-pairing keeps:

- across all trials (default): nothing but the overall mean of each modality — the null of "no
  relation at all between the two recordings";
- within each condition (``within_condition``): the condition (the task) — the null of "the
  modalities share the task, and nothing trial by trial". A small p here says the coupling goes
  beyond what the condition explains.

A continuous session (consecutive windows, no trials table) is not re-paired: its windows share
slow signals with their neighbours, so re-pairing them breaks what any time-locked or merely
slow common signal keeps, and gives false positives (even with the behavior reversed in time).
Its null is the behavior shifted circularly in time against the neural data (``shifts``): each
modality keeps its own structure, only their alignment is broken. Folds are then contiguous
blocks of windows (:func:`mmgpvae_core.evaluation.heldout.session_folds`).

The p-value is the permutation test's ``(1 + #{null ≥ real}) / (1 + shuffles)``: with 19 shuffles
the smallest possible is 0.05. It says whether the cross-modal prediction of the *real* pairing
beats re-paired data; it does not say how many shared dimensions there are (the sweep does), nor
that the shared latents mean what one hopes (a common drift, e.g. arousal or slow drift shared by
both recordings and stable within a session, is real shared structure and passes this test).

Consistency (``mmgpvae consistency``)
-------------------------------------
Latents are identified up to an invertible linear map per subspace, so "do two fits agree" is a
question about subspaces: the canonical correlations between the posterior means of one fit and
another, per subspace, over every observed bin of every trial. All near 1: the subspace is found
whatever the seed. One low: that direction of the subspace is not determined by the data (or the
fits did not converge). It says nothing about whether a subspace is shared in the data (the null
test) or how many dimensions it should have (the sweep).

``null_test`` and ``consistency`` hold one each; their fits run through the sweep's jobs
(:func:`mmgpvae_core.sweep.run_jobs`).
"""

from mmgpvae_core.controls.consistency import (
    CONSISTENCY_CSV_COLUMNS,
    ConsistencyResult,
    canonical_correlations,
    fitted_latents,
    read_consistency_csv,
    refit_settings,
    run_consistency,
    seed_job,
    write_consistency_csv,
)
from mmgpvae_core.controls.null_test import (
    CROSS_MODAL_TERMS,
    DIRECTION_METRICS,
    NULL_CSV_COLUMNS,
    NULLS,
    NullTestResult,
    cross_modal_scores,
    null_kind,
    p_value,
    pairing_job,
    pairing_permutations,
    read_null_csv,
    repaired,
    run_null_test,
    shift_range,
    write_null_csv,
)
from mmgpvae_core.controls.shifts import MIN_FRACTION, circular_shifts, shifted

__all__ = [
    "CONSISTENCY_CSV_COLUMNS",
    "CROSS_MODAL_TERMS",
    "DIRECTION_METRICS",
    "MIN_FRACTION",
    "NULLS",
    "NULL_CSV_COLUMNS",
    "ConsistencyResult",
    "NullTestResult",
    "canonical_correlations",
    "circular_shifts",
    "cross_modal_scores",
    "fitted_latents",
    "null_kind",
    "p_value",
    "pairing_job",
    "pairing_permutations",
    "read_consistency_csv",
    "read_null_csv",
    "refit_settings",
    "repaired",
    "run_consistency",
    "run_null_test",
    "seed_job",
    "shift_range",
    "shifted",
    "write_consistency_csv",
    "write_null_csv",
]
