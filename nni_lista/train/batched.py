"""K architectures of the LISTA space trained together, as one batched computation.

K frozen networks of the same size (m x n) and depth T are stacked: row ``i`` of each stacked
parameter is network ``i``'s parameter, a layer's estimates are a ``(K, batch, n)`` tensor, and
the matrix products of all K networks are one batched product (``torch.baddbmm``:
``z_i = B_i b + W_{t,i} u_i`` for every ``i`` at once). Networks that differ in a choice are
grouped per layer by the weight form chosen; skips and mixed neurons are applied network by
network on views of the stacked tensors (only the edges that are on, as in the frozen network).

Every network sees the same training batches (the same seed) and the loss is the sum of the K
networks' losses ``sum_i mean_batch ||D x_i - s||^2``, so network ``i``'s gradient is the one
training it alone gives, and, Adam being element-wise, so is its update; the numbers agree to
float rounding (batched and single matrix products round differently). Each network keeps its
own best validation state and its own stopping rule (patience, target, plateau): a network
that has stopped still computes with the others, but nothing it does after that counts.

Only the end-to-end protocol (that of the search proxy and the study's retraining) is batched;
batched runs keep no checkpoints. D-LADMM networks are not batched. On a 2-core CPU the batched
computation runs at about the speed of training one network after another (0.94-0.98x,
``benchmarks/batched_training.py``, docs/benchmarks.md): nothing uses it by default yet.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

import torch
from torch import nn

from nni_lista.base.errors import TrainingDiverged, require
from nni_lista.problem.metrics import nmse_db
from nni_lista.problem.problems import Problem, seeded_generator
from nni_lista.space import layers as space_layers
from nni_lista.space import neurons as space_neurons
from nni_lista.space.mechanisms import OFF as MECHANISMS_OFF, Mechanism
from nni_lista.space.spaces import LISTASpace
from nni_lista.train.training import _E2E_STREAM, TrainConfig, TrainResult, e2e_optimizer, plateaued, stops


def _stack(tensors: list[torch.Tensor]) -> nn.Parameter:
    return nn.Parameter(torch.stack([t.detach() for t in tensors]).clone())


def _rows(K: int, index: list[int]):
    """``index`` as a tensor, or None when it is every row in order (no gather needed)."""
    return None if index == list(range(K)) else torch.tensor(index)


class _Group(nn.Module):
    """The networks (rows ``index``) whose layer made the same choice; ``links`` pairs each
    stacked parameter with the networks' own parameters (for :meth:`StackedNetworks.unstack`)."""

    def __init__(self, K: int, index: list[int]):
        super().__init__()
        self.index = index
        rows = _rows(K, index)
        self.register_buffer("rows", torch.empty(0, dtype=torch.long) if rows is None else rows, persistent=False)
        self.links: list[tuple[str, list[nn.Parameter]]] = []

    def take(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.rows.numel() == 0 else x.index_select(0, self.rows)

    def stack(self, name: str, params: list[nn.Parameter]) -> None:
        setattr(self, name, _stack(params))
        self.links.append((name, params))


class _Form(_Group):
    """One weight form for the networks ``index`` of a layer (see :mod:`nni_lista.space.layers`)."""

    def __init__(self, K: int, index: list[int], forms: list[nn.Module]):
        super().__init__(K, index)
        first = forms[0]
        self.kind, self.first = type(first), first.first
        if self.kind is space_layers.ListaForm and not self.first:
            self.stack("W", [f.W for f in forms])
        elif self.kind is space_layers.CoupledForm:
            self.stack("W", [f.W for f in forms])
            self.register_buffer("A", first.A.clone(), persistent=False)
        elif self.kind is space_layers.AnalyticForm:
            self.stack("gamma", [f.gamma for f in forms])
            self.register_buffer("A", first.A.clone(), persistent=False)
            self.register_buffer("Wa", first.W.clone(), persistent=False)

    def forward(self, u, b, Bb):
        """``u``, ``Bb``: (K, batch, n) (``u`` None in layer 1); ``b``: (batch, m)."""
        if self.kind is space_layers.ListaForm:
            Bb = self.take(Bb)
            return Bb if self.first else torch.baddbmm(Bb, self.take(u), self.W.transpose(1, 2))
        if self.kind is space_layers.CoupledForm:
            if self.first:
                return torch.matmul(b, self.W)
            u = self.take(u)
            return torch.baddbmm(u, b - u @ self.A.T, self.W)
        gamma = self.gamma.view(-1, 1, 1)
        if self.first:
            return gamma * (b @ self.Wa)
        u = self.take(u)
        return u + gamma * ((b - u @ self.A.T) @ self.Wa)


class _Neuron(_Group):
    """One neuron type for the networks ``index`` of a layer; thresholds stacked."""

    def __init__(self, K: int, index: list[int], neurons: list[nn.Module]):
        super().__init__(K, index)
        self._neuron = (neurons[0],)  # one of the group's neurons, not registered: its own theta is not trained here
        if isinstance(neurons[0], space_neurons.Thresholded):
            self.stack("theta", [neuron.theta for neuron in neurons])

    def forward(self, z, row: Optional[int] = None):
        """The neuron of every network of the group on ``z`` (G, batch, n), or of the group's
        network ``row`` alone on its ``z`` (batch, n)."""
        neuron = self._neuron[0]
        if not hasattr(self, "theta"):
            return neuron(z)
        return neuron.shrink(z, self.theta.view(-1, 1, 1) if row is None else self.theta[row])


def _grouped(K: int, modules: list[nn.Module], key: Callable, make: Callable) -> nn.ModuleList:
    groups: dict = {}
    for i, module in enumerate(modules):
        groups.setdefault(key(module), []).append(i)
    return nn.ModuleList(make(K, index, [modules[i] for i in index]) for index in groups.values())


def _merge(groups: nn.ModuleList, outputs: list[torch.Tensor], K: int) -> torch.Tensor:
    """The groups' outputs back in network order."""
    if len(groups) == 1:
        return outputs[0]
    order = [i for group in groups for i in group.index]
    inverse = torch.empty(K, dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(K)
    return torch.cat(outputs).index_select(0, inverse.to(outputs[0].device))


class _StackedLayer(nn.Module):
    """Layer ``k`` of K networks: skip gains, form groups, neuron groups.

    Matrix products are batched over each form group. Skips and, when the networks chose
    different neurons, the neurons are applied network by network on views of the stacked
    tensors (the on edges only, in the frozen layer's order) and stacked again: gathering and
    scattering groups, or adding masked-off edges, costs more element-wise work than it saves."""

    def __init__(self, blocks: list[space_layers.UnrolledLayer]):
        super().__init__()
        K = len(blocks)
        self.K = K
        self.forms = _grouped(K, [b.form for b in blocks], lambda f: type(f), _Form)
        self.neurons = _grouped(
            K, [b.neuron for b in blocks], lambda n: (type(n), getattr(n, "percent", None)), _Neuron
        )
        self.neuron_of = [None] * K  # network i -> (its neuron group, its row there)
        for group in self.neurons:
            for row, i in enumerate(group.index):
                self.neuron_of[i] = (group, row)
        self.gain = (
            nn.ParameterList()
        )  # one per skip edge that some network has on; rows of networks without it are unused
        self.gain_links: list[list[Optional[nn.Parameter]]] = []
        self.edges_of: list[list[tuple[int, int]]] = [[] for _ in range(K)]  # network i -> [(source j, gain index)]
        for position, j in enumerate(blocks[0].skip_sources):
            edges = [b.skips[position] for b in blocks]
            on = [isinstance(edge, space_layers.GatedSkip) for edge in edges]
            if not any(on):
                continue
            self.gain.append(_stack([edge.gain if is_on else torch.tensor(0.0) for edge, is_on in zip(edges, on)]))
            self.gain_links.append([edge.gain if is_on else None for edge, is_on in zip(edges, on)])
            for i in range(K):
                if on[i]:
                    self.edges_of[i].append((j, len(self.gain) - 1))

    def forward(self, b, Bb, previous, rows: list):
        """``rows[j - 1]``: the estimate ``x^j`` of each network, as K views (``unbind``: one
        backward copy for all K, where K ``select`` views would each allocate a full gradient)."""
        u = previous
        if any(self.edges_of):
            own = rows[-1]
            gains = [gain.unbind(0) for gain in self.gain]
            summed = []
            for i, edges in enumerate(self.edges_of):
                ui = own[i]
                for j, g in edges:
                    ui = ui + gains[g][i] * rows[j - 1][i]
                summed.append(ui)
            u = torch.stack(summed)
        z = _merge(self.forms, [form(u, b, Bb) for form in self.forms], self.K)
        if len(self.neurons) == 1:
            return self.neurons[0](z)
        return torch.stack([group(zi, row) for zi, (group, row) in zip(z.unbind(0), self.neuron_of)])


class StackedNetworks(nn.Module):
    """K ISTA-initialised frozen networks of the LISTA space (:func:`nni_lista.space.spaces.build`
    or a frozen sample), computed as one; :meth:`unstack` writes the trained weights back."""

    def __init__(self, networks: list[LISTASpace]):
        super().__init__()
        require(len(networks) >= 1, "no networks to stack")
        require(
            all(self.supports(net) for net in networks),
            "only frozen networks of the LISTA space without gates, momentum or threshold shapes can be stacked",
        )
        sizes = {(net.sizes, net.layers, net.measure is not None) for net in networks}
        require(len(sizes) == 1, f"networks of different sizes or depths cannot be stacked: {sorted(sizes)}")
        self._networks = list(networks)  # a plain list: not submodules
        self.K, self.layers = len(networks), networks[0].layers
        self.B = _stack([net.measure.B for net in networks]) if networks[0].measure is not None else None
        self.blocks = nn.ModuleList(_StackedLayer([net.blocks[t] for net in networks]) for t in range(self.layers))

    @staticmethod
    def supports(network: nn.Module) -> bool:
        """Whether ``network`` can be stacked: a frozen network of the LISTA space without the
        post-ALISTA mechanisms (:mod:`nni_lista.space.mechanisms`: not batched)."""
        if not isinstance(network, LISTASpace):
            return False
        return not any(
            isinstance(module, space_layers.LayerChoice)
            or (isinstance(module, Mechanism) and not isinstance(module, MECHANISMS_OFF))
            for module in network.modules()
        )

    def forward(self, b: torch.Tensor, depth: Optional[int] = None) -> list[torch.Tensor]:
        """The estimates ``x^1 .. x^depth`` of every network, each ``(K, batch, n)``."""
        Bb = None if self.B is None else torch.matmul(b, self.B.transpose(1, 2))
        estimates: list[torch.Tensor] = []
        rows: list = []
        previous = None
        for block in self.blocks[: self.layers if depth is None else depth]:
            previous = block(b, Bb, previous, rows)
            estimates.append(previous)
            rows.append(previous.unbind(0))  # views; their backward runs only where a skip used them
        return estimates

    def _links(self):
        """(stacked parameter, {network i: (its row, its own parameter)}) for every stacked parameter."""
        if self.B is not None:
            yield self.B, {i: (i, net.measure.B) for i, net in enumerate(self._networks)}
        for block in self.blocks:
            for group in (*block.forms, *block.neurons):
                for name, params in group.links:
                    yield (
                        getattr(group, name),
                        {i: (row, param) for row, (i, param) in enumerate(zip(group.index, params))},
                    )
            for gains, params in zip(block.gain, block.gain_links):
                yield gains, {i: (i, param) for i, param in enumerate(params) if param is not None}

    @torch.no_grad()
    def unstack(self) -> list[LISTASpace]:
        """Copy each network's rows of the stacked parameters into it; returns the networks."""
        for stacked, rows in self._links():
            for row, param in rows.values():
                param.copy_(stacked[row])
        return self._networks

    def row_state(self, i: int) -> list[torch.Tensor]:
        """Network ``i``'s rows of the stacked parameters (copies)."""
        return [stacked[rows[i][0]].detach().clone() for stacked, rows in self._links() if i in rows]

    @torch.no_grad()
    def load_row_state(self, i: int, state: list[torch.Tensor]) -> None:
        """Put back what :meth:`row_state` took."""
        for (stacked, rows), value in zip(((s, r) for s, r in self._links() if i in r), state, strict=True):
            stacked[rows[i][0]].copy_(value)


def _losses(stacked: StackedNetworks, problem: Problem, b: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``mean_batch ||D x_i - s||^2`` of each network ``i`` (last layer), shape (K,)."""
    estimate = problem.decode(stacked(b)[-1])
    return (estimate - s).pow(2).sum(dim=-1).mean(dim=-1)


@torch.no_grad()
def _validate(stacked: StackedNetworks, problem: Problem) -> list[float]:
    """Validation NMSE (dB, a ratio of sums) of each network's last layer."""
    estimates = problem.decode(stacked(problem.val.b)[-1])
    return [nmse_db(estimate, problem.val.s) for estimate in estimates]


class _Track:
    """One network's best validation state and stopping rule, as in ``training._Stage.run``."""

    def __init__(self, config: TrainConfig, value: float, state: list):
        self.config = config
        self.best_value, self.best_state, self.best_step = value, state, 0
        self.history: list[dict] = []
        self.plateau = (
            None if config.plateau_db is None else plateaued(self.history, config.plateau_db, config.plateau_steps)
        )
        self.steps: Optional[int] = None  # set when it stops
        self.failure: Optional[Exception] = None

    def observe(self, step: int, value: float, seconds: float, state: Callable[[], list]) -> None:
        if math.isnan(value):
            self.failure, self.steps = TrainingDiverged(f"validation NMSE became NaN at end-to-end, step {step}"), step
            return
        if value < self.best_value:
            self.best_value, self.best_state, self.best_step = value, state(), step
        self.history.append({"step": step, "val_nmse_db": value, "seconds": round(seconds, 3)})
        cfg = self.config
        if stops(step, value, self.best_value, self.best_step, cfg.patience, cfg.target_db, self.plateau):
            self.steps = step


def train_together(
    networks: list[LISTASpace], problem: Problem, config: TrainConfig, progress: Optional[bool] = None
) -> list[TrainResult | Exception]:
    """Train ``networks`` (ISTA-initialised) end to end with ``config`` as one batched
    computation; each ends with its best validation weights, as
    :func:`nni_lista.train.training.train` leaves it. Returns one :class:`TrainResult` per
    network (its ``seconds`` the batch's wall time divided by K), or the
    :class:`TrainingDiverged` that stopped it."""
    from tqdm.auto import tqdm

    require(config.protocol == "e2e", f"protocol {config.protocol!r} cannot be batched: only e2e")
    require(
        not config.plateau_drops,
        f"plateau_drops {config.plateau_drops} cannot be batched: the networks share one "
        "schedule, and each would drop its rate at its own plateau",
    )
    stacked = StackedNetworks(networks).to(config.device)
    problem = problem.to(config.device)
    optimizer, scheduler = e2e_optimizer(stacked, config)
    generator = seeded_generator(config.seed, _E2E_STREAM)
    started = time.perf_counter()
    tracks = [_Track(config, value, stacked.row_state(i)) for i, value in enumerate(_validate(stacked, problem))]
    step = 0
    with tqdm(
        total=config.max_steps,
        desc=f"{stacked.K} networks",
        unit="step",
        leave=False,
        dynamic_ncols=True,
        disable=None if progress is None else not progress,
    ) as bar:
        while step < config.max_steps and any(t.steps is None for t in tracks):
            batch = problem.train_batch(config.batch, generator)
            losses = _losses(stacked, problem, batch.b, batch.s)
            for i, track in enumerate(tracks):
                if track.steps is None and not torch.isfinite(losses[i]):
                    track.failure = TrainingDiverged(
                        f"training loss became {float(losses[i].detach())} at end-to-end, step {step + 1}"
                    )
                    track.steps = step
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # rows do not mix: a diverged network's NaN reaches only its own gradients
            optimizer.step()
            scheduler.step()
            step += 1
            bar.update(1)
            if step % config.eval_every == 0 or step == config.max_steps:
                values = _validate(stacked, problem)
                seconds = time.perf_counter() - started
                for i, (track, value) in enumerate(zip(tracks, values)):
                    if track.steps is None:
                        track.observe(step, value, seconds, lambda i=i: stacked.row_state(i))
                bar.set_postfix_str(f"best {min(t.best_value for t in tracks):.2f} dB")
    for i, track in enumerate(tracks):
        stacked.load_row_state(i, track.best_state)
    stacked.unstack()
    share = (time.perf_counter() - started) / stacked.K
    return [
        track.failure
        or TrainResult(steps=step if track.steps is None else track.steps, seconds=share, history=track.history)
        for track in tracks
    ]
