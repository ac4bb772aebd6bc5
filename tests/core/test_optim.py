"""The fit's Adam (optim.py): torch.optim.Adam's steps and state layout, without its imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from mmgpvae_core.optim import Adam


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _train(net: torch.nn.Module, opt, steps: int, seed: int = 1, lrs=None) -> None:
    gen = torch.Generator().manual_seed(seed)
    for k in range(steps):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[k]
        x = torch.randn(32, 7, generator=gen)
        loss = (net(x) - x[:, :3].sin()).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _params(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("fused", [True, False])
def test_takes_torch_optim_adams_steps(fused):
    lrs = [1e-2 * 0.9**k for k in range(25)]  # a schedule, as the fit's annealing sets it
    ours, theirs = _net(), _net()
    _train(ours, Adam(ours.parameters(), lr=1e-2, fused=fused), 25, lrs=lrs)
    _train(theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2, fused=fused, foreach=False
                                    if not fused else None), 25, lrs=lrs)
    start = _params(_net())
    for a, b, s in zip(_params(ours), _params(theirs), start):
        assert not torch.equal(a, s)  # it trained
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_the_fused_kernel_and_the_tensor_by_tensor_update_agree():
    a, b = _net(), _net()
    _train(a, Adam(a.parameters(), lr=1e-2, fused=True), 20)
    _train(b, Adam(b.parameters(), lr=1e-2, fused=False), 20)
    for x, y in zip(_params(a), _params(b)):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def test_a_torch_optim_state_goes_on_as_torch_would_and_ours_loads_into_torch():
    # A project saved with torch.optim.Adam reopens with this class and takes the same steps.
    saved_net = _net()
    saved = torch.optim.Adam(saved_net.parameters(), lr=3e-3, fused=True)
    _train(saved_net, saved, 10)
    state = saved.state_dict()

    ours_net = _net()
    ours_net.load_state_dict(saved_net.state_dict())
    ours = Adam(ours_net.parameters(), lr=1.0)
    ours.load_state_dict(state)
    assert ours.param_groups[0]["lr"] == 3e-3
    _train(saved_net, saved, 10, seed=2)
    _train(ours_net, ours, 10, seed=2)
    for x, y in zip(_params(ours_net), _params(saved_net)):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)

    # and the other way: our state dict has torch.optim's layout
    back = torch.optim.Adam(_net().parameters(), lr=1.0, fused=True)
    back.load_state_dict(ours.state_dict())
    assert back.state_dict()["param_groups"][0]["lr"] == 3e-3
    for i, s in ours.state_dict()["state"].items():
        assert torch.equal(back.state_dict()["state"][i]["exp_avg"], s["exp_avg"])
        assert float(back.state_dict()["state"][i]["step"]) == 20.0


def test_a_state_for_other_parameters_is_refused_and_changes_nothing():
    net = _net()
    opt = Adam(net.parameters(), lr=1e-2)
    _train(net, opt, 3)
    before = {k: v["exp_avg"].clone() for k, v in opt.state_dict()["state"].items()}
    other = Adam(list(_net().parameters())[:3], lr=5.0)
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(other.state_dict())
    assert opt.param_groups[0]["lr"] == 1e-2
    for k, v in opt.state_dict()["state"].items():
        assert torch.equal(v["exp_avg"], before[k])
    with pytest.raises(ValueError, match="more than once"):
        Adam([*net.parameters(), next(net.parameters())], lr=1.0)
    shapes = _net()
    swapped = list(shapes.parameters())
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(ValueError, match="shape"):
        Adam(swapped, lr=1.0).load_state_dict(opt.state_dict())


def test_the_state_dict_holds_the_state_not_a_copy_and_zero_grad_keeps_or_drops():
    net = _net()
    opt = Adam(net.parameters(), lr=1e-2)
    _train(net, opt, 2)
    p = next(net.parameters())
    assert opt.state_dict()["state"][0]["exp_avg"] is opt.state[p]["exp_avg"]
    p.grad = torch.ones_like(p)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.any()
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no gradients: nothing moves
    assert float(opt.state[p]["step"]) == 2.0


def test_a_fit_imports_no_torch_compiler():
    """torch.optim.Adam imports torch._dynamo (68 MB, 1–3 s) on first use; a fit must not."""
    code = textwrap.dedent("""
        import sys
        from mmgpvae_core.api import MMGPVAE
        from mmgpvae_core.synthetic.simulate import simulate
        sim = simulate(n_trials=12, n_time=20, n_neurons=8, n_keypoints=2, seed=0)
        MMGPVAE(1, 1, 1, epochs=2, seed=0, device="cpu").fit(sim.neural, sim.behavior)
        print(sorted(m for m in sys.modules if m.startswith("torch._dynamo")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_without_a_fused_kernel_for_the_device_the_first_step_goes_tensor_by_tensor(monkeypatch):
    """torch before 2.4 has no fused Adam on the CPU (nor on every device): the optimizer finds
    that out on its first step and takes the same steps without it."""
    def missing(*args, **kwargs):
        raise NotImplementedError("no fused kernel here")

    plain_net, net = _net(), _net()
    _train(plain_net, Adam(plain_net.parameters(), lr=1e-2, fused=False), 5)
    monkeypatch.setattr(torch, "_fused_adam_", missing)
    opt = Adam(net.parameters(), lr=1e-2)
    assert opt.param_groups[0]["fused"]
    _train(net, opt, 5)
    assert not opt.param_groups[0]["fused"]
    assert all(float(s["step"]) == 5.0 for s in opt.state.values())
    for x, y in zip(_params(net), _params(plain_net)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_a_kernel_failing_after_it_ran_is_an_error_not_a_fallback(monkeypatch):
    net = _net()
    opt = Adam(net.parameters(), lr=1e-2)
    _train(net, opt, 2)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(torch, "_fused_adam_", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        _train(net, opt, 1)
    assert opt.param_groups[0]["fused"]
    assert all(float(s["step"]) == 2.0 for s in opt.state.values())  # not counted


def test_a_state_for_a_parameter_outside_the_group_is_refused():
    net = _net()
    opt = Adam(net.parameters(), lr=1e-2)
    _train(net, opt, 1)
    state = opt.state_dict()
    state["state"][99] = state["state"][0]
    with pytest.raises(ValueError, match="parameter 99"):
        Adam(_net().parameters(), lr=1.0).load_state_dict(state)
