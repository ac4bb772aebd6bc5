"""Adam, the fit's optimizer, without ``torch.optim``.

``torch.optim.Adam`` imports ``torch._dynamo`` (about 800 modules) the first time it is built,
whether or not anything is compiled: 68 MB of memory and 1–3 s that every ``mmgpvae fit`` and
the app's first fit paid, a third of the fixed memory cost of an hour-long fit
(benchmarks/RESULTS.md, "Scale"). This class runs the same update through the same fused kernel
(``torch._fused_adam_``, which ``torch.optim.Adam(fused=True)`` calls), so a fit takes the same
steps to the bit, and its ``state_dict`` has ``torch.optim``'s layout, so projects saved with
``torch.optim.Adam`` reopen and go on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

#: devices with a fused Adam kernel (one kernel for all parameters instead of ~10 small ops per
#: parameter tensor: 0.9 → 0.2 ms a step on one CPU thread)
FUSED_DEVICES = ("cpu", "cuda", "mps", "xpu")

#: torch.optim.Adam's defaults, the only ones a fit uses (no weight decay, no AMSGrad)
BETAS = (0.9, 0.999)
EPS = 1e-8

#: the hyper-parameters a state dict's group holds, as ``torch.optim.Adam`` writes them
_GROUP_DEFAULTS = {
    "betas": BETAS, "eps": EPS, "weight_decay": 0.0, "amsgrad": False, "maximize": False,
    "foreach": None, "capturable": False, "differentiable": False,
    "decoupled_weight_decay": False,
}


class Adam:
    """Adam (Kingma & Ba, 2015) over one group of parameters at learning rate ``lr``.

    ``param_groups`` (``[{"params", "lr", ...}]``; a schedule sets ``["lr"]``), ``state``
    (parameter → ``step``, ``exp_avg``, ``exp_avg_sq``), ``zero_grad``, ``step``, ``state_dict``
    and ``load_state_dict`` as ``torch.optim.Adam``. ``fused`` (default: whether every parameter
    is a floating tensor on a device in :data:`FUSED_DEVICES`) picks the fused kernel; otherwise
    the same update is written tensor by tensor.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float, fused: bool | None = None):
        params = list(params)
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter is listed more than once; Adam would step it twice")
        if fused is None:
            fused = bool(params) and all(
                p.device.type in FUSED_DEVICES and p.dtype.is_floating_point for p in params
            )
        self.param_groups: list[dict[str, Any]] = [
            {"params": params, "lr": float(lr), **_GROUP_DEFAULTS, "fused": bool(fused)}
        ]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    @property
    def params(self) -> list[torch.Tensor]:
        return self.param_groups[0]["params"]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:  # as torch.optim: a gradient that is a view cannot be detached in place
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step of every parameter that has a gradient."""
        group = self.param_groups[0]
        with_grad = [p for p in self.params if p.grad is not None]
        if not with_grad:
            return
        for p in with_grad:
            if p not in self.state:
                self.state[p] = self._fresh_state(p)
        beta1, beta2 = group["betas"]
        if group["fused"] and self._fused_step(with_grad, group["lr"], beta1, beta2):
            return
        for p in with_grad:
            _adam_update(p, self.state[p], group["lr"], beta1, beta2, group["eps"])

    def _fused_step(self, params: list[torch.Tensor], lr: float, beta1: float, beta2: float) -> bool:
        """The step through the fused kernel; False (nothing changed, and the tensor-by-tensor
        update from now on) where this torch has no fused kernel for the parameters' device or
        dtype (before torch 2.4 on the CPU, say). Only the first step can find that out: a
        group that stepped once has a kernel."""
        for i, same in enumerate(_by_device_and_dtype(params).values()):
            steps = [self.state[p]["step"] for p in same]
            torch._foreach_add_(steps, 1)
            try:
                torch._fused_adam_(
                    same, [p.grad for p in same],
                    [self.state[p]["exp_avg"] for p in same],
                    [self.state[p]["exp_avg_sq"] for p in same],
                    [], steps,
                    amsgrad=False, lr=lr, beta1=beta1, beta2=beta2,
                    weight_decay=0.0, eps=self.param_groups[0]["eps"], maximize=False,
                    grad_scale=None, found_inf=None,
                )
            except (NotImplementedError, RuntimeError):
                torch._foreach_sub_(steps, 1)
                if i or any(float(s) > 0 for s in steps):
                    raise  # a kernel that ran before: not a missing kernel
                self.param_groups[0]["fused"] = False
                for p in params:  # the step counts where the tensor-by-tensor update keeps them
                    self.state[p]["step"] = self.state[p]["step"].to(self._step_device(p))
                return False
        return True

    def _step_device(self, p: torch.Tensor) -> torch.device:
        """Where ``p``'s step count lives, as torch.optim keeps it (float32): on ``p``'s device
        for the fused kernel, in CPU memory for the tensor-by-tensor update."""
        return p.device if self.param_groups[0]["fused"] else torch.device("cpu")

    def _fresh_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "step": torch.zeros((), dtype=torch.float32, device=self._step_device(p)),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, the
        layout of ``torch.optim``: parameters by their place in the group, tensors not copied."""
        group = self.param_groups[0]
        index = {id(p): i for i, p in enumerate(group["params"])}
        return {
            "state": {index[id(p)]: dict(s) for p, s in self.state.items()},
            "param_groups": [
                {**{k: v for k, v in group.items() if k != "params"},
                 "params": list(range(len(group["params"])))}
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A state from :meth:`state_dict` or from ``torch.optim.Adam`` over the same
        parameters: its moments (on each parameter's device and dtype), step counts and learning
        rate. Raises ValueError, and changes nothing, when the state is for other parameters."""
        groups = state_dict["param_groups"]
        if len(groups) != 1:
            raise ValueError(f"loaded state dict has {len(groups)} parameter groups; expected 1")
        saved = groups[0]
        if len(saved["params"]) != len(self.params):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                f"optimizer's group ({len(saved['params'])} parameters; expected {len(self.params)})"
            )
        place = {i: p for i, p in zip(saved["params"], self.params)}
        state = {}
        for i, s in state_dict["state"].items():
            if i not in place:
                raise ValueError(f"loaded state dict has a state for parameter {i}, not in its group")
            p = place[i]
            for name in ("exp_avg", "exp_avg_sq"):
                if s[name].shape != p.shape:
                    raise ValueError(
                        f"loaded state of parameter {i} has {name} of shape {tuple(s[name].shape)}; "
                        f"expected {tuple(p.shape)}"
                    )
            state[p] = {
                "step": torch.as_tensor(s["step"]).to(self._step_device(p), torch.float32).clone(),
                **{name: s[name].to(p.device, p.dtype).clone() for name in ("exp_avg", "exp_avg_sq")},
            }
        self.state = state
        self.param_groups[0]["lr"] = float(saved["lr"])


def _by_device_and_dtype(params: list[torch.Tensor]) -> dict[tuple, list[torch.Tensor]]:
    out: dict[tuple, list[torch.Tensor]] = {}
    for p in params:
        out.setdefault((p.device, p.dtype), []).append(p)
    return out


def _adam_update(p: torch.Tensor, s: dict[str, torch.Tensor], lr: float, beta1: float,
                 beta2: float, eps: float) -> None:
    """One Adam step of ``p`` in place (``torch.optim.Adam``'s single-tensor update)."""
    s["step"] += 1
    step = float(s["step"])
    s["exp_avg"].lerp_(p.grad, 1 - beta1)
    s["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
    step_size = lr / (1 - beta1**step)
    denom = (s["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2**step)).add_(eps)
    p.addcdiv_(s["exp_avg"], denom, value=-step_size)
