"""Many sessions, one latent space: separate fits vs one multi-session fit vs a new session
added to a fitted model (``fit --sessions``, ``--from``).

Simulated: sessions of one task recorded from different neurons (``simulate_sessions``: one
latent process and one body, 30–72 neurons each). Each fit's shared latents are mapped to the
truth by one linear map fitted over all sessions together (cross-validated over trials): the
measure of one latent space. A fifth session is then added to the four-session model with few
training trials (``add_sessions``, as ``fit --from``) and scored on its held-out trials (the
held-out predictive score and behavior from its neurons), against a fresh fit on the same
trials. And the time per epoch of one fit against the total number of trials.

Real (skipped when ``../shared/real-samples/paired`` is absent): the S1 reaching session split
into two "recordings" of different neurons — the first half of the session with the even
units, the second half with the odd ones. Velocity decoded from each half's own neurons on its
last 20 %, through one model of both halves and through a fit of that half alone; and the
second half added to the fit of the first half alone (``add_sessions``, as ``fit --from``)
with 10, 20 and all of its training windows, against fresh fits of the same windows.

    python benchmarks/sessions.py [--epochs 150] [--s1-epochs 150] [--seeds 3] [--out RESULTS.md]

Prints a Markdown section (append it to RESULTS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import time_to_fit as ttf  # its --smoke option (this folder is on the path)
import torch

S1 = (
    Path(__file__).resolve().parents[2]
    / "shared" / "real-samples" / "paired" / "s1_area2_reaching.mat"
)


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    pred, truth = pred.reshape(-1, pred.shape[-1]), truth.reshape(-1, truth.shape[-1])
    ok = ~(np.isnan(pred).any(1) | np.isnan(truth).any(1))
    pred, truth = pred[ok], truth[ok]
    return float(1 - ((pred - truth) ** 2).sum() / ((truth - truth.mean(0)) ** 2).sum())


def from_neurons(model, neural, **kw) -> np.ndarray:
    """Behavior predicted from ``neural`` alone; an MLP decoder's samples drawn from seed 0, so
    that two models' R² differ by the models, not by the draws."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return model.reconstruct(neural, None, **kw)["behavior"]


def affine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    X = x.reshape(-1, x.shape[-1])
    Y = y.reshape(-1, y.shape[-1])
    ok = ~(np.isnan(X).any(1) | np.isnan(Y).any(1))
    coef, *_ = np.linalg.lstsq(np.column_stack([X[ok], np.ones(ok.sum())]), Y[ok], rcond=None)
    return coef


def apply(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    X = x.reshape(-1, x.shape[-1])
    return (np.column_stack([X, np.ones(len(X))]) @ coef).reshape(*x.shape[:-1], -1)


def trials(ds, rows):
    cond = None if ds.conditions is None else ds.conditions[rows]
    return dataclasses.replace(ds, data=ds.data[rows], conditions=cond)


# ---------------------------------------------------------------------------- simulated
def one_map(a, MMGPVAE, known) -> tuple[list[str], object]:
    """Separate fits vs one multi-session fit: shared latents through one map over all."""
    from mmgpvae_core.evaluation.recovery import cv_r2

    truth = [s.truth["shared"] for s in known]
    kw = dict(epochs=a.epochs, seed=0)
    t0 = time.perf_counter()
    separate = [
        MMGPVAE(2, 1, 1, **kw).fit(s.neural, s.behavior).transform()["shared"] for s in known
    ]
    t_sep = time.perf_counter() - t0
    t0 = time.perf_counter()
    joint = MMGPVAE(2, 1, 1, **kw).fit(
        [s.neural for s in known], [s.behavior for s in known],
        names=[f"s{k}" for k in range(len(known))],
    )
    t_joint = time.perf_counter() - t0
    together = [joint.transform(session=k)["shared"] for k in range(len(known))]
    rows = [
        "| fit | shared R², one map over all sessions | per session (own map), min–max | fit s |",
        "|---|---:|---|---:|",
    ]
    fits = (("separate fits", separate, t_sep), ("one multi-session fit", together, t_joint))
    for name, lat, secs in fits:
        per = [cv_r2(x, y) for x, y in zip(lat, truth)]
        rows.append(
            f"| {name} | {cv_r2(np.concatenate(lat), np.concatenate(truth)):.3f} | "
            f"{min(per):.3f}–{max(per):.3f} | {secs:.0f} |"
        )
    return rows, joint


#: the held-out scores of a carried-over session reported (``heldout.evaluate`` keys): the
#: score, its cross-modal terms (behavior from neurons alone, neurons from behavior alone) and
#: behavior from neurons alone as R²
CARRIED_KEYS = ("score", "cross_behavior", "cross_neural", "r2_behavior_from_neural")


def carried_scores(a, MMGPVAE, joint, new_sim) -> dict[int, dict[str, dict[str, float]]]:
    """A new session with few training trials, added to the fitted model (``--from``) and
    fitted fresh on the same trials: {trials: {"added"/"fresh": held-out scores}}."""
    from mmgpvae_core.evaluation.heldout import evaluate

    test = slice(a.trials // 2, a.trials)
    nd_test, bd_test = trials(new_sim.neural, test), trials(new_sim.behavior, test)
    out = {}
    for n in a.few:
        few = slice(0, n)
        nd, bd = trials(new_sim.neural, few), trials(new_sim.behavior, few)
        added = joint.add_sessions([nd], [bd], ["new"], epochs=a.epochs).for_session("new")
        fresh = MMGPVAE(2, 1, 1, epochs=a.epochs, seed=0).fit(nd, bd)
        out[n] = {}
        for name, m in (("added", added), ("fresh", fresh)):
            ev = evaluate(m, nd_test, bd_test)
            out[n][name] = {k: float(ev[k]) for k in CARRIED_KEYS}
    return out


def _cells(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def carried_over(a, by_seed: dict[int, dict]) -> list[str]:
    """The table of :func:`carried_scores` over simulation seeds, and their mean ± sd."""
    n_test = a.trials - a.trials // 2
    rows = [
        f"A new session ({a.neurons[-1]} neurons) with few training trials, scored on its "
        f"{n_test} held-out trials: the held-out predictive score (nats per trial, the sweep's: "
        "co-smoothing and cross-modal prediction), its cross-modal part (behavior from the "
        "neurons alone + neurons from the behavior alone, nats per trial) and behavior "
        "predicted from its neurons alone (R²); added to the fitted model (`--from`) against "
        "a fresh fit of the same trials:",
        "",
        "| seed | training trials | added: score | cross-modal | R² | fresh: score | "
        "cross-modal | R² | added − fresh, score |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def numbers(ev):
        return ev["score"], ev["cross_behavior"] + ev["cross_neural"], ev["r2_behavior_from_neural"]

    for seed, scores in by_seed.items():
        for n, ev in scores.items():
            cells = [*numbers(ev["added"]), *numbers(ev["fresh"])]
            rows.append(
                f"| {seed} | {n} | " + " | ".join(
                    f"{c:.3f}" if k % 3 == 2 else f"{c:.1f}" for k, c in enumerate(cells)
                ) + f" | {cells[0] - cells[3]:+.1f} |"
            )
    if len(by_seed) > 1:
        for n in a.few:
            per = np.array([
                [*numbers(s[n]["added"]), *numbers(s[n]["fresh"])] for s in by_seed.values()
            ])
            diff = per[:, 0] - per[:, 3]
            rows.append(
                f"| mean ± sd | {n} | " + " | ".join(
                    _cells(list(per[:, k]), 3 if k % 3 == 2 else 0) for k in range(6)
                ) + f" | {_cells(list(diff), 0)} (added better in {int((diff > 0).sum())}/"
                f"{len(diff)}) |"
            )
    return rows


def epoch_time(a, MMGPVAE, known) -> list[str]:
    """Seconds per epoch of one multi-session fit against the total number of trials."""
    rows = [
        "| sessions | trials in all | s/epoch | s/epoch per 100 trials |",
        "|---:|---:|---:|---:|",
    ]
    for k in range(1, len(known) + 1):
        part = known[:k]
        m = MMGPVAE(2, 1, 1, epochs=a.time_epochs, seed=0)
        m.fit([s.neural for s in part], [s.behavior for s in part])
        h = np.diff([0.0, *m.history.elapsed_s])[1:]  # the first epoch left out
        n = sum(s.neural.n_trials for s in part)
        rows.append(f"| {k} | {n} | {np.median(h):.3f} | {100 * np.median(h) / n:.3f} |")
    return rows


def simulated(a, MMGPVAE) -> list[str]:
    from mmgpvae_core.synthetic.simulate import simulate_sessions

    def sessions(seed):
        sims = simulate_sessions(n_neurons=a.neurons, n_trials=a.trials, n_time=a.time, seed=seed)
        return sims[:-1], sims[-1]

    known, new_sim = sessions(a.seeds[0])
    rows, joint = one_map(a, MMGPVAE, known)
    by_seed = {a.seeds[0]: carried_scores(a, MMGPVAE, joint, new_sim)}
    for seed in a.seeds[1:]:  # other simulations: the multi-session fit and the new session
        other, other_new = sessions(seed)
        fitted = MMGPVAE(2, 1, 1, epochs=a.epochs, seed=0).fit(
            [s.neural for s in other], [s.behavior for s in other],
            names=[f"s{k}" for k in range(len(other))],
        )
        by_seed[seed] = carried_scores(a, MMGPVAE, fitted, other_new)
    head = (
        f"{len(known)} simulated sessions of one task ({', '.join(map(str, a.neurons[:-1]))} "
        f"neurons; {a.trials} trials × {a.time} bins each; split 2 + 1 + 1; up to {a.epochs} "
        f"epochs, fit seed 0, simulation seed {a.seeds[0]}):"
    )
    return [
        head, "", *rows, "",
        *carried_over(a, by_seed), "",
        f"(simulation seeds {', '.join(map(str, a.seeds))}: each a multi-session fit of its "
        f"{len(known)} sessions and one more session carried over)", "",
        f"Time per epoch of one fit of the first k sessions ({a.time_epochs} epochs, median "
        "after the first):", "", *epoch_time(a, MMGPVAE, known),
    ]


# ---------------------------------------------------------------------------- S1
def s1_recordings(window: int):
    """The S1 session as two recordings of different neurons: (neural, behavior) Datasets of
    ``window``-bin windows for the first half (even units) and the second half (odd units)."""
    import scipy.io

    from mmgpvae_core.data import Dataset

    m = scipy.io.loadmat(S1, variable_names=["spikes", "vel"])
    spikes, vel = m["spikes"].astype(np.float32), m["vel"].astype(np.float32)
    vel = (vel - vel.mean(0)) / vel.std(0)
    half = len(spikes) // 2
    out = []
    halves = ((slice(0, half), slice(0, None, 2)), (slice(half, None), slice(1, None, 2)))
    for part, units in halves:
        x, v = spikes[part, units], vel[part]
        n = len(x) // window
        out.append((
            Dataset(x[: n * window].reshape(n, window, -1), bin_size_s=0.05, source=f"S1 {part}"),
            Dataset(v[: n * window].reshape(n, window, -1), bin_size_s=0.05, source=f"S1 {part}",
                    channel_names=["vel_x", "vel_y"]),
        ))
    return out


def s1(a, MMGPVAE) -> list[str]:
    """Velocity decoded from each half's neurons on its last 20 %: one model of both halves
    against a fit of that half alone."""
    halves = s1_recordings(a.s1_window)
    split, kw = (6, 2, 1), dict(epochs=a.s1_epochs, seed=0)
    parts = []
    for nd, bd in halves:
        n = nd.n_trials
        train, test = slice(0, int(0.8 * n)), slice(int(0.8 * n) + 1, n)  # one window left out
        parts.append((trials(nd, train), trials(bd, train), trials(nd, test), trials(bd, test)))
    joint = MMGPVAE(*split, **kw).fit(
        [p[0] for p in parts], [p[1] for p in parts], names=["first", "second"]
    )
    rows = [
        "| recording | units | velocity R², one model of both | a fit of this half alone |",
        "|---|---:|---:|---:|",
    ]
    alone = []
    for k, (name, (n_tr, b_tr, n_te, b_te)) in enumerate(zip(("first", "second"), parts)):
        alone.append(MMGPVAE(*split, **kw).fit(n_tr, b_tr))
        r_joint = r2(from_neurons(joint, n_te, session=k), b_te.data)
        r_alone = r2(from_neurons(alone[-1], n_te), b_te.data)
        rows.append(f"| {name} half | {n_tr.n_channels} | {r_joint:.3f} | {r_alone:.3f} |")
    head = (
        f"S1 (area 2, reaching; `../shared/real-samples/paired`) split into two recordings: the "
        f"first half of the session with the even units, the second half with the odd units; "
        f"{a.s1_window * 0.05:g} s windows, velocity z-scored, split 6 + 2 + 1, up to "
        f"{a.s1_epochs} epochs, seed 0; each half trained on its first 80 % and scored on its "
        "last 20 % (one window left out between), velocity from its own neurons alone:"
    )
    return [head, "", *rows, "", *s1_from(a, lambda: MMGPVAE(*split, **kw), alone, parts[1])]


def s1_from(a, new_model, alone, second) -> list[str]:
    """The second half added to the fit of the first half alone (``--from``) with its first
    few training windows, against a fresh fit of the same windows (``alone[1]`` for all of
    them; ``new_model()``: an unfitted model of their settings): velocity from its neurons
    and the held-out score on its last 20 %."""
    from mmgpvae_core.evaluation.heldout import evaluate

    n_tr, b_tr, n_te, b_te = second
    rows = [
        "The second half added to the fit of the first half alone (`--from`), with its first "
        "few training windows, against a fresh fit of the same windows; scored on its last "
        "20 % (velocity R² from its neurons alone; held-out score and its cross-modal part, "
        "nats per window):",
        "",
        "| training windows | added: velocity R² | score | cross-modal | fresh: velocity R² | "
        "score | cross-modal |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for few in (*a.s1_few, n_tr.n_trials):
        nd, bd = trials(n_tr, slice(0, few)), trials(b_tr, slice(0, few))
        added = alone[0].add_sessions([nd], [bd], ["second"], epochs=a.s1_epochs)
        fresh = alone[1] if few == n_tr.n_trials else new_model().fit(nd, bd)
        cells = []
        for m in (added.for_session("second"), fresh):
            ev = evaluate(m, n_te, b_te)
            cells += [f"{r2(from_neurons(m, n_te), b_te.data):.3f}",
                      f"{ev['score']:.1f}", f"{ev['cross_behavior'] + ev['cross_neural']:.1f}"]
        rows.append(f"| {few} | " + " | ".join(cells) + " |")
    return rows


def smoke_from(a, MMGPVAE) -> list[str]:
    """:func:`s1_from` on two tiny simulated sessions (``--smoke``: S1 is not read)."""
    from mmgpvae_core.synthetic.simulate import simulate_sessions

    sims = simulate_sessions(n_neurons=a.neurons[:2], n_trials=a.trials, n_time=a.time, seed=1)
    train, test = slice(0, a.trials - 2), slice(a.trials - 2, a.trials)
    second = (trials(sims[1].neural, train), trials(sims[1].behavior, train),
              trials(sims[1].neural, test), trials(sims[1].behavior, test))
    new_model = lambda: MMGPVAE(2, 1, 1, epochs=a.epochs, seed=0)
    alone = [new_model().fit(sims[0].neural, sims[0].behavior),
             new_model().fit(second[0], second[1])]
    tiny = argparse.Namespace(**{**vars(a), "s1_epochs": a.epochs, "s1_few": (2,)})
    return s1_from(tiny, new_model, alone, second)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--s1-epochs", type=int, default=150)
    p.add_argument("--trials", type=int, default=60)
    p.add_argument("--time", type=int, default=60)
    p.add_argument("--seed", type=int, default=1, help="the simulation's seed (default 1)")
    p.add_argument(
        "--seeds", type=int, default=3,
        help="simulations the new session is carried over in (seeds from --seed on; default 3)",
    )
    p.add_argument("--out", help="append the section to this file")
    p.add_argument("--no-s1", action="store_true", help="skip the real S1 part")
    ttf.add_smoke_argument(p, "tiniest sizes (3 sessions of 6 trials, 2 epochs, no S1)")
    a = p.parse_args()
    a.neurons, a.few, a.s1_window, a.time_epochs = (30, 45, 60, 72, 40), (5, 10), 100, 6
    a.s1_few = (10, 20)  # training windows of the S1 half added with --from
    if a.smoke:
        a.neurons, a.few, a.trials, a.time, a.epochs = (8, 10, 12), (3,), 6, 20, 2
        a.no_s1, a.out, a.time_epochs, a.seeds = True, None, 2, 2
    a.seeds = [a.seed + k for k in range(max(1, a.seeds))]
    torch.set_num_threads(2)
    from mmgpvae_core.api import MMGPVAE

    t0 = time.perf_counter()
    lines = ["## Many sessions, one latent space", "", *simulated(a, MMGPVAE)]
    if not a.no_s1 and S1.is_file():
        lines += ["", *s1(a, MMGPVAE)]
    if a.smoke:  # the S1 part's `--from` table on two simulated sessions, so that it runs
        lines += ["", *smoke_from(a, MMGPVAE)]
    took = time.perf_counter() - t0
    lines += ["", f"(`python benchmarks/sessions.py`, {took:.0f} s on this machine)", ""]
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
