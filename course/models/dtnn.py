"""The deep tensor neural network (DTNN) of Schütt et al., Nat. Commun. 8, 13890 (2017), in Keras 3.

Seed 000 presents it as a network whose parts a chemist can read: a molecule is its nuclear
charges Z_i and interatomic distances d_ij only, each atom carries a learned state c_i, and the
molecular property is a sum of atomic contributions. With F the size of an atom state::

    embedding      c_i⁰ = C[Z_i]                                   (one learned F-vector per element)
    distances      d̂_ij,k = exp(−(d_ij − μ_k)² / (2σ²))            (K Gaussians, fixed μ_k, σ)
    interaction    v_ij = tanh(W_fc ((W_cf c_j + b_cf) ∘ (W_df d̂_ij + b_df)))
                   c_i^{t+1} = c_i^t + Σ_{j≠i} v_ij                  (T passes)
    atom output    o_i = W_2 tanh(W_1 c_i^T + b_1) + b_2
    molecule       y = Σ_i (s · o_i + m)

``m`` and ``s`` are the mean and spread of the property per atom over the training molecules
(:meth:`DTNN.set_target_scaling`, as in the paper), so the network learns a per-atom residual of
order one; the output layer starts at zero and an untrained model predicts N · m.

The interaction is a *continuous filter*: the distance decides, through a product of factors,
how much of atom j's state reaches atom i. Everything is a sum over atoms, so the prediction does
not depend on the order of the atoms; padded atoms (``atom_mask`` 0) take part in no sum, so it
does not depend on padding either. ``keras.ops`` only (TensorFlow on CPU, JAX on GPU).

Inputs are padded batches from :func:`dtnn_inputs`: ``Z`` (B, A) atomic numbers (0 for padding),
``xyz`` (B, A, 3) in Å and ``atom_mask`` (B, A).

Interpretation (seed 000, "inferred chemical potentials"): :meth:`DTNN.atom_contributions` gives
the terms s · o_i + m, which sum to the prediction, and :func:`chemical_potential` the
contribution of a probe atom placed at points around a molecule.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import ops

from course.features.layout import ragged_positions
from course.models.resumable import TrainConfig, fit_arrays
from course.models.weave import GaussianDistances

#: Default centres (Å) of the distance Gaussians: 0 to 8 Å every 0.2 Å, and their width σ (Å).
DTNN_CENTERS: tuple[float, ...] = tuple(round(0.2 * k, 1) for k in range(41))
DTNN_WIDTH = 0.2
#: Largest atomic number the element embedding has a row for (QM9: H, C, N, O, F).
MAX_Z = 9


def dtnn_inputs(Z: np.ndarray, R: np.ndarray, offsets: np.ndarray,
                max_atoms: int | None = None) -> dict[str, np.ndarray]:
    """Padded DTNN inputs of molecules stored as concatenated atoms: molecule k owns atoms
    ``offsets[k]:offsets[k + 1]`` of ``Z`` and ``R`` (Å), e.g. from
    ``course.features.qm9_vectors.atoms_of``. Pads to ``max_atoms`` (default: the largest here).
    ``xyz`` keeps the precision of ``R`` (float32 at least), so float64 models can be checked exactly.

    >>> x = dtnn_inputs(np.array([8, 1, 1, 6]), np.zeros((4, 3)), np.array([0, 3, 4]))
    >>> x["Z"]
    array([[8, 1, 1],
           [6, 0, 0]], dtype=int32)
    >>> x["atom_mask"]
    array([[1., 1., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    counts = np.diff(np.asarray(offsets, dtype=np.int64))
    a = int(counts.max()) if max_atoms is None else max_atoms
    if counts.max() > a:
        raise ValueError(f"a molecule has {counts.max()} atoms > max_atoms={a}")
    block, local = ragged_positions(counts)
    out = {"Z": np.zeros((len(counts), a), np.int32),
           "xyz": np.zeros((len(counts), a, 3), np.result_type(np.asarray(R).dtype, np.float32)),
           "atom_mask": np.zeros((len(counts), a), np.float32)}
    out["Z"][block, local] = Z
    out["xyz"][block, local] = R
    out["atom_mask"][block, local] = 1.0
    return out


def _distances(a, b):
    """|a_i − b_j| for points a (B, I, 3) and b (B, J, 3): (B, I, J)."""
    diff = a[:, :, None, :] - b[:, None, :, :]
    return ops.sqrt(ops.maximum(ops.sum(ops.square(diff), axis=-1), 0.0))


class Interaction(keras.layers.Layer):
    """One DTNN pass: the message v_ij = tanh(W_fc ((W_cf c_j + b_cf) ∘ (W_df d̂_ij + b_df))) that
    every source atom j sends to every target i, summed over the pairs that ``pair_mask`` keeps."""

    def __init__(self, n_state: int = 30, n_factors: int = 60, **kwargs):
        super().__init__(**kwargs)
        self.n_state, self.n_factors = n_state, n_factors
        self.from_atom = keras.layers.Dense(n_factors, name="cf", dtype=self.dtype_policy)
        self.from_distance = keras.layers.Dense(n_factors, name="df", dtype=self.dtype_policy)
        self.to_atom = keras.layers.Dense(n_state, use_bias=False, name="fc", dtype=self.dtype_policy)

    def build(self, states_shape, expanded_shape) -> None:
        self.from_atom.build((None, states_shape[-1]))
        self.from_distance.build((None, expanded_shape[-1]))
        self.to_atom.build((None, self.n_factors))

    def call(self, sources, expanded, pair_mask):
        """Σ_j m_ij v_ij for ``sources`` (B, S, F), ``expanded`` distances (B, T, S, K) and
        ``pair_mask`` (B, T, S): (B, T, F)."""
        factors = self.from_atom(sources)[:, None, :, :] * self.from_distance(expanded)
        return ops.sum(ops.tanh(self.to_atom(factors)) * pair_mask[..., None], axis=2)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_state": self.n_state, "n_factors": self.n_factors}


class DTNN(keras.Model):
    """Element embedding → T :class:`Interaction` passes → per-atom MLP → sum (module docstring).
    Build it with :func:`build_dtnn`; ``call`` returns (B, 1) predictions in property units."""

    def __init__(self, n_state: int = 30, n_factors: int = 60, n_interactions: int = 3, n_hidden: int = 15,
                 distance_centers: Sequence[float] = DTNN_CENTERS, distance_width: float = DTNN_WIDTH, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(n_state=n_state, n_factors=n_factors, n_interactions=n_interactions, n_hidden=n_hidden,
                           distance_centers=[float(c) for c in distance_centers], distance_width=float(distance_width))
        dtype = self.dtype_policy
        spread = keras.initializers.RandomNormal(stddev=n_state ** -0.5)
        self.embedding = keras.layers.Embedding(MAX_Z + 1, n_state, embeddings_initializer=spread, name="embedding",
                                                dtype=dtype)
        self.expand = GaussianDistances(distance_centers, distance_width, dtype=dtype, name="distances")
        self.interactions = [Interaction(n_state, n_factors, dtype=dtype, name=f"interaction_{t}")
                             for t in range(n_interactions)]
        self.hidden = keras.layers.Dense(n_hidden, activation="tanh", name="atom_hidden", dtype=dtype)
        # Zero output layer: training starts from the per-atom mean, not from noise.
        self.atom_out = keras.layers.Dense(1, kernel_initializer="zeros", name="atom_out", dtype=dtype)

    def build(self, input_shape: dict | None = None) -> None:
        n_state, n_basis = self.config["n_state"], len(self.config["distance_centers"])
        self.embedding.build((None, None))
        for layer in self.interactions:
            layer.build((None, None, n_state), (None, None, None, n_basis))
        self.hidden.build((None, n_state))
        self.atom_out.build((None, self.config["n_hidden"]))
        kw = dict(trainable=False, dtype=self.variable_dtype)
        self.per_atom_mean = self.add_weight(shape=(), initializer="zeros", name="per_atom_mean", **kw)
        self.per_atom_scale = self.add_weight(shape=(), initializer="ones", name="per_atom_scale", **kw)
        self.built = True

    def set_target_scaling(self, y: np.ndarray, n_atoms: np.ndarray) -> None:
        """Per-atom mean m and spread s of the property ``y`` over training molecules of
        ``n_atoms`` atoms (Schütt et al.): the network then learns residuals of order one."""
        per_atom = np.asarray(y, dtype=float) / np.asarray(n_atoms, dtype=float)
        self.per_atom_mean.assign(float(per_atom.mean()))
        self.per_atom_scale.assign(float(per_atom.std()) or 1.0)

    def _expanded(self, a, b):
        return self.expand(_distances(a, b)[..., None])

    def atom_states(self, inputs: dict) -> list:
        """c^0, ..., c^T: the atom states (B, A, F) before and after every interaction pass."""
        mask = ops.cast(inputs["atom_mask"], self.compute_dtype)
        xyz = ops.cast(inputs["xyz"], self.compute_dtype)
        expanded = self._expanded(xyz, xyz)
        eye = ops.eye(ops.shape(mask)[1], dtype=self.compute_dtype)
        pair_mask = mask[:, :, None] * mask[:, None, :] * (1.0 - eye)
        states = [self.embedding(ops.cast(inputs["Z"], "int32")) * mask[..., None]]
        for layer in self.interactions:
            states.append((states[-1] + layer(states[-1], expanded, pair_mask)) * mask[..., None])
        return states

    def _atom_terms(self, states):
        return self.per_atom_scale * self.atom_out(self.hidden(states))[..., 0] + self.per_atom_mean

    def atom_contributions(self, inputs: dict):
        """(B, A) terms s · o_i + m of every real atom (0 on padding): they sum to the prediction."""
        return self._atom_terms(self.atom_states(inputs)[-1]) * ops.cast(inputs["atom_mask"], self.compute_dtype)

    def call(self, inputs: dict):
        return ops.sum(self.atom_contributions(inputs), axis=1, keepdims=True)

    def probe_contributions(self, inputs: dict, probe_z: int, points):
        """(B, G): the contribution of a probe atom ``probe_z`` at each of the G ``points`` (B, G, 3)
        near molecule b; see :func:`chemical_potential`."""
        states = self.atom_states(inputs)
        mask = ops.cast(inputs["atom_mask"], self.compute_dtype)
        points = ops.cast(points, self.compute_dtype)
        expanded = self._expanded(points, ops.cast(inputs["xyz"], self.compute_dtype))  # (B, G, A, K)
        pair_mask = ops.ones_like(points[..., 0])[:, :, None] * mask[:, None, :]
        probe = ops.zeros_like(points[..., :1]) + self.embedding(ops.convert_to_tensor([[probe_z]], "int32"))
        for layer, molecule in zip(self.interactions, states[:-1]):
            probe = probe + layer(molecule, expanded, pair_mask)
        return self._atom_terms(probe)

    def get_config(self) -> dict:
        return {**super().get_config(), **self.config}


def build_dtnn(*, n_state: int = 30, n_factors: int = 60, n_interactions: int = 3, n_hidden: int = 15,
               distance_centers: Sequence[float] = DTNN_CENTERS, distance_width: float = DTNN_WIDTH,
               dtype: str | None = None) -> DTNN:
    """A built :class:`DTNN`, ready for ``compile``.

    Hyperparameters: ``n_state`` (F, size of an atom state), ``n_factors`` (of the continuous
    filter), ``n_interactions`` (T passes: atom j reaches atom i through T − 1 intermediates),
    ``n_hidden`` (the per-atom output layer), ``distance_centers`` μ_k and ``distance_width`` σ (Å).
    The defaults are small versions of the paper's. ``dtype``: e.g. ``"float64"`` in tests.

    >>> model = build_dtnn(n_state=4, n_factors=5, n_interactions=2, n_hidden=3)
    >>> x = dtnn_inputs(np.array([8, 1, 1]), np.array([[0, 0, 0], [0.76, 0.59, 0], [-0.76, 0.59, 0]]),
    ...                 np.array([0, 3]))
    >>> model.set_target_scaling(np.array([6.0]), np.array([3]))   # 2 per atom
    >>> keras.ops.convert_to_numpy(model(x)).round(4)               # untrained: N · m = 6
    array([[6.]], dtype=float32)
    """
    model = DTNN(n_state=n_state, n_factors=n_factors, n_interactions=n_interactions, n_hidden=n_hidden,
                 distance_centers=distance_centers, distance_width=distance_width, dtype=dtype)
    model.build()
    return model


def chemical_potential(model: DTNN, Z: np.ndarray, xyz: np.ndarray, points: np.ndarray, probe_z: int = 1) -> np.ndarray:
    """Energy contribution of a probe atom ``probe_z`` (default H) placed at each of ``points``
    (G, 3) (Å) next to the molecule (``Z``, ``xyz``): the "inferred chemical potential" Ω_A(r) of
    Schütt et al. (2017) that seed 000 shows, drawn as a map on a plane through the molecule.

    The probe listens but is not heard (our reading of the paper's construction): in every pass it
    receives the messages of the molecule's atoms, and the molecule's atoms are computed without
    it, so Ω depends on r and on the molecule only, and one forward pass gives the whole grid.
    With one interaction pass this equals the probe's :meth:`DTNN.atom_contributions` term with
    the probe added as an atom.

    >>> model = build_dtnn(n_state=4, n_factors=5, n_interactions=2, n_hidden=3)
    >>> grid = np.array([[x, 0.0, 1.5] for x in (-1.0, 0.0, 1.0)])
    >>> chemical_potential(model, np.array([6, 8]), np.array([[0, 0, 0], [0, 0, 1.2]]), grid).shape
    (3,)
    """
    x = dtnn_inputs(np.asarray(Z), np.asarray(xyz), np.array([0, len(Z)]))
    out = model.probe_contributions(x, probe_z, np.asarray(points, dtype=float)[None])
    return np.asarray(ops.convert_to_numpy(out))[0]


def _widened(x: dict[str, np.ndarray], atoms: int) -> dict[str, np.ndarray]:
    """``x`` padded with empty atom slots to ``atoms`` (training and validation sets may differ)."""
    extra = atoms - x["Z"].shape[1]
    return {k: np.pad(v, [(0, 0), (0, extra)] + [(0, 0)] * (v.ndim - 2)) for k, v in x.items()}


def fit_dtnn(model: DTNN, train: tuple[dict[str, np.ndarray], np.ndarray], val: tuple[dict[str, np.ndarray], np.ndarray],
             config: TrainConfig, *, state: str | Path | None = None, max_minutes: float | None = None,
             progress: bool = False) -> dict:
    """Train on (inputs, y) pairs from :func:`dtnn_inputs`, for a property of whole molecules in any
    unit (e.g. U0 minus the free-atom energies, eV): target scaling from the training molecules,
    then the course's resumable loop (``course.models.resumable``: Adam, cosine learning rate, the
    weights of the best validation MAE kept; ``state`` and ``max_minutes`` as for the weave model).
    Returns the learning curve.

    Example (``x_train``, ``x_val`` from ``dtnn_inputs``, ``y_train``, ``y_val`` their U0 in eV)::

        history = fit_dtnn(build_dtnn(), (x_train, y_train), (x_val, y_val), TrainConfig(epochs=20))
    """
    (x_train, y_train), (x_val, y_val) = train, val
    atoms = max(x_train["Z"].shape[1], x_val["Z"].shape[1])
    x_train, x_val = _widened(x_train, atoms), _widened(x_val, atoms)
    model.set_target_scaling(y_train, np.asarray(x_train["atom_mask"]).sum(axis=1))

    def mae(model: DTNN, x: dict[str, np.ndarray], y: np.ndarray) -> float:
        return float(np.mean(np.abs(predict_dtnn(model, x) - y[:, 0])))

    as_column = (lambda y: np.asarray(y, dtype=np.float32)[:, None])
    return fit_arrays(model, (x_train, as_column(y_train)), (x_val, as_column(y_val)), config, config.loss, mae,
                      "dtnn", state=state, max_minutes=max_minutes, progress=progress)


def predict_dtnn(model: DTNN, inputs: dict[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Predictions (M,) in the property's units, ``batch_size`` molecules at a time.

    >>> x = dtnn_inputs(np.array([6, 1, 1, 1, 1]), np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 5]))
    >>> predict_dtnn(build_dtnn(n_state=4, n_factors=5, n_interactions=1, n_hidden=3), x).shape
    (1,)
    """
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))[:, 0]


def contributions_dtnn(model: DTNN, inputs: dict[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
    """Atomic contributions (M, A) of :meth:`DTNN.atom_contributions` (0 on padding), ``batch_size``
    molecules at a time, so that a large test set needs no (M, A, A, K) array at once.

    >>> x = dtnn_inputs(np.array([6, 1, 1, 1, 1, 8, 1]), np.random.default_rng(0).normal(size=(7, 3)), np.array([0, 5, 7]))
    >>> model = build_dtnn(n_state=4, n_factors=5, n_interactions=1, n_hidden=3)
    >>> terms = contributions_dtnn(model, x, batch_size=1)
    >>> terms.shape, bool(np.allclose(terms.sum(axis=1), predict_dtnn(model, x), atol=1e-5))
    ((2, 5), True)
    """
    n = len(inputs["Z"])
    return np.concatenate([np.asarray(ops.convert_to_numpy(model.atom_contributions(
        {key: value[start:start + batch_size] for key, value in inputs.items()}))) for start in range(0, n, batch_size)])
