"""A denoising autoencoder (DAE) with tied weights on the flat Molecular Graph vector (seed 001, Aim 4).

The seed's design: five layers input–hidden–code–hidden–output, the decoder's weights the
transposes of the encoder's ("tied", which halves the weights and makes training easier), ReLU
units, and small Gaussian noise added to the input during training only, so that the code must
capture structure rather than copy the input. The code is then the input of property models and
of LRP (Module 5).

**Input.** The seed asks for "the input layer dimension [...] same as for the GC-based models",
5889 numbers, so the DAE works on one fixed-length vector per molecule made of the MG features
(``course.features.graph``): the 21 atom features of 29 atom slots, then the 13 pair features of
the C(29, 2) = 406 unordered pairs i < j (the diagonal is all zero and the pairs are symmetric, so
nothing is lost), 29·21 + 406·13 = 5887 numbers (:func:`mg_vectors`). We could not find where the
seed's other 2 come from. Atoms sit in QM9's file order (heavy atoms first, then hydrogens) and
slots past a molecule's size hold zeros; unlike the weave model, this vector changes when the
atoms are renumbered, as the seed's flat input layer does. Columns are divided by their largest
|value| over the training molecules (:func:`column_scale`): distances (up to 12 Å) and 0/1 flags
then weigh alike, and zeros, hence padding, stay zero.

**Sizes.** The seed's 5889-136-68-136-5889: a code of "twice the total number of feature types"
and hidden layers twice that. 68 = 2 × 34 counts the 21 + 13 MG features of its Tables 1 and 2 as
"types"; the course's 12 feature types (``course.explain.feature_types``) would give 24 and 48.
The defaults follow the seed's numbers (``n_code`` = 2 × 34, ``n_hidden`` = 2 × ``n_code``); both
are arguments.

**Output layer.** ReLU on every hidden and code unit, as the seed says; the output layer is
linear by default because scaled partial charges are negative and a ReLU output could never
reconstruct them (``output_activation="relu"`` gives the seed's literal network).

**Training and explaining.** :func:`fit_autoencoder` trains on the mean squared reconstruction
error of the clean input from its noisy copy. :func:`encoder_network` rewrites the trained
encoder, optionally followed by a dense property model on the code, as a ``keras.Sequential`` of
dense ReLU layers, the chain that Module 5's LRP (``course.explain.explain``) walks.
"""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import ops

from course.features.layout import MAX_ATOMS
from course.models.resumable import TrainConfig, fit_arrays
from course.models.weave_data import WeaveData

#: The seed's code and hidden widths: 2 × (21 atom + 13 pair MG features), and twice that.
SEED_CODE = 2 * (21 + 13)
SEED_HIDDEN = 2 * SEED_CODE


def mg_vectors(data: WeaveData, rows: np.ndarray, max_atoms: int = MAX_ATOMS, chunk: int = 512) -> np.ndarray:
    """(len(rows), A·21 + C(A, 2)·13) float32 flat MG vectors (module docstring), A = ``max_atoms``:
    atom slot k's 21 features at ``21k``, then pair (i, j), i < j, in ``numpy.triu_indices`` order.

    Example (``data`` a ``WeaveData``)::

        mg_vectors(data, [0, 1]).shape       # (2, 5887)
    """
    rows = np.asarray(rows, dtype=np.int64)
    i, j = np.triu_indices(max_atoms, k=1)
    parts = []
    for start in range(0, len(rows), chunk):
        x = data.padded(rows[start:start + chunk], max_atoms=max_atoms)
        b = len(x["atoms"])
        parts.append(np.hstack([x["atoms"].reshape(b, -1), x["pairs"][:, i, j].reshape(b, -1)]))
    return np.vstack(parts) if parts else np.zeros((0, max_atoms * 21 + len(i) * 13), np.float32)


def mg_column_types(atom_features: tuple[str, ...], pair_features: tuple[str, ...],
                    max_atoms: int = MAX_ATOMS) -> np.ndarray:
    """The feature type (one of the 12 of ``course.features.graph.FEATURE_TYPES``) of every column
    of :func:`mg_vectors`, for :func:`reconstruction_error_per_type`. Imports RDKit (the type
    table lives with the featurizer); call it where RDKit is installed.

    >>> from course.features.graph import ATOM_FEATURES, PAIR_FEATURES
    >>> types = mg_column_types(ATOM_FEATURES, PAIR_FEATURES)
    >>> len(types), str(types[0]), str(types[-1]), len(set(types))
    (5887, 'atom type', 'spatial distance', 12)
    """
    from course.features.graph import FEATURE_TYPES  # here only: imports RDKit

    n_pairs = max_atoms * (max_atoms - 1) // 2
    atom_types, pair_types = [FEATURE_TYPES[n] for n in atom_features], [FEATURE_TYPES[n] for n in pair_features]
    return np.array(atom_types * max_atoms + pair_types * n_pairs)


def column_scale(x: np.ndarray) -> np.ndarray:
    """Largest |value| of every column of ``x`` (1 where a column is all zero): divide inputs by it.

    >>> column_scale(np.array([[1.0, -3.0, 0.0], [2.0, 1.0, 0.0]]))
    array([2., 3., 1.])
    """
    largest = np.abs(np.asarray(x, dtype=float)).max(axis=0)
    return np.where(largest > 0, largest, 1.0)


class TiedAutoencoder(keras.Model):
    """x → h = σ(x W₁ + b₁) → c = σ(h W₂ + b₂) → h' = σ(c W₂ᵀ + b₃) → x̂ = f(h' W₁ᵀ + b₄), σ = ReLU.

    Two kernels W₁ (n_inputs, n_hidden) and W₂ (n_hidden, n_code) serve the encoder and, transposed,
    the decoder; each layer keeps its own bias. During training (``training=True``, as ``fit``
    calls it) Gaussian noise of standard deviation ``noise`` is added to x first; at inference the
    model is deterministic. ``encode`` gives the code c.
    """

    def __init__(self, n_inputs: int, n_hidden: int = SEED_HIDDEN, n_code: int = SEED_CODE, noise: float = 0.1,
                 output_activation: str = "linear", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if output_activation not in ("linear", "relu"):
            raise ValueError(f"output_activation must be 'linear' or 'relu', not {output_activation!r}")
        self.config = dict(n_inputs=n_inputs, n_hidden=n_hidden, n_code=n_code, noise=noise,
                           output_activation=output_activation, seed=seed)
        self.corrupt = keras.layers.GaussianNoise(noise, seed=seed, dtype=self.dtype_policy, name="input_noise")

    def build(self, input_shape=None) -> None:
        c = self.config
        glorot = keras.initializers.GlorotUniform
        self.w1 = self.add_weight(shape=(c["n_inputs"], c["n_hidden"]), initializer=glorot(c["seed"]), name="w1")
        self.w2 = self.add_weight(shape=(c["n_hidden"], c["n_code"]), initializer=glorot(c["seed"]), name="w2")
        self.biases = [self.add_weight(shape=(n,), initializer="zeros", name=f"b{k + 1}")
                       for k, n in enumerate((c["n_hidden"], c["n_code"], c["n_hidden"], c["n_inputs"]))]
        self.built = True

    def encode(self, x):
        """The code c (B, n_code) of inputs x (B, n_inputs), without noise."""
        hidden = ops.relu(ops.matmul(x, self.w1) + self.biases[0])
        return ops.relu(ops.matmul(hidden, self.w2) + self.biases[1])

    def decode(self, code):
        """The reconstruction x̂ (B, n_inputs) of a code (B, n_code), through the transposed kernels."""
        hidden = ops.relu(ops.matmul(code, ops.transpose(self.w2)) + self.biases[2])
        out = ops.matmul(hidden, ops.transpose(self.w1)) + self.biases[3]
        return ops.relu(out) if self.config["output_activation"] == "relu" else out

    def call(self, x, training: bool = False):
        return self.decode(self.encode(self.corrupt(x, training=training)))

    def get_config(self) -> dict:
        return {**super().get_config(), **self.config}


def build_autoencoder(n_inputs: int, *, n_hidden: int = SEED_HIDDEN, n_code: int = SEED_CODE, noise: float = 0.1,
                      output_activation: str = "linear", seed: int | None = None,
                      dtype: str | None = None) -> TiedAutoencoder:
    """A built :class:`TiedAutoencoder` (defaults: the seed's 136-68-136 on ``n_inputs`` inputs).

    >>> model = build_autoencoder(10, n_hidden=4, n_code=2, seed=0)
    >>> [tuple(w.shape) for w in model.trainable_weights]   # two kernels, four biases
    [(10, 4), (4, 2), (4,), (2,), (4,), (10,)]
    >>> x = np.ones((3, 10), np.float32)
    >>> bool(np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0)))  # no noise
    True
    """
    model = TiedAutoencoder(n_inputs, n_hidden, n_code, noise, output_activation, seed, dtype=dtype)
    model.build()
    return model


def fit_autoencoder(model: TiedAutoencoder, x_train: np.ndarray, x_val: np.ndarray, config: TrainConfig, *,
                    state: str | Path | None = None, max_minutes: float | None = None, progress: bool = False) -> dict:
    """Train on the mean squared error between the clean input and its reconstruction from a noisy
    copy (the model's noise acts in training only) with the course's resumable loop
    (``course.models.resumable``: Adam, cosine learning rate, the weights of the lowest noise-free
    validation error kept; ``state`` and ``max_minutes`` as for the weave model). The weights stay
    tied: the decoder has no kernels of its own to train. Returns the learning curve
    (``val_mae`` holds the validation *mean squared* error).

    Example (``x`` scaled flat MG vectors, e.g. ``mg_vectors(data, rows) / column_scale(...)``)::

        history = fit_autoencoder(build_autoencoder(x.shape[1], seed=0), x[:900], x[900:],
                                  TrainConfig(epochs=20, loss="mse"))
    """
    x_train, x_val = (np.asarray(v, dtype=np.float32) for v in (x_train, x_val))
    for name, v in (("x_train", x_train), ("x_val", x_val)):
        if v.ndim != 2 or v.shape[1] != model.config["n_inputs"]:
            raise ValueError(f"{name} must have shape (molecules, {model.config['n_inputs']}), got {v.shape}")

    def mse(model: TiedAutoencoder, x: np.ndarray, target: np.ndarray) -> float:
        return float(np.mean((model.predict(x, batch_size=256, verbose=0) - target) ** 2))

    return fit_arrays(model, (x_train, x_train), (x_val, x_val), config, "mse", mse, "autoencoder", state=state,
                      max_minutes=max_minutes, progress=progress)


def _copy_dense(layer: keras.layers.Dense, name: str) -> keras.layers.Dense:
    config = {**layer.get_config(), "name": name}
    copy = keras.layers.Dense.from_config(config)
    copy.build((None, layer.kernel.shape[0]))
    copy.set_weights(layer.get_weights())
    return copy


def encoder_network(model: TiedAutoencoder, head: keras.Sequential | None = None) -> keras.Sequential:
    """The encoder x → c as two ``Dense(relu)`` layers holding copies of W₁, b₁ and W₂, b₂, then
    copies of the ``Dense`` layers of ``head`` (a property model on the code), if given: one chain
    of dense layers, as ``course.explain.explain`` needs. The copies do not follow later training.

    >>> ae = build_autoencoder(6, n_hidden=4, n_code=2, seed=0)
    >>> x = np.random.default_rng(0).normal(size=(3, 6)).astype("float32")
    >>> net = encoder_network(ae)
    >>> bool(np.allclose(net.predict(x, verbose=0), ops.convert_to_numpy(ae.encode(x))))
    True
    """
    kernels = (model.w1, model.w2)
    layers = [keras.Input((model.config["n_inputs"],), dtype=model.compute_dtype)]
    for k, (kernel, bias) in enumerate(zip(kernels, model.biases[:2])):
        dense = keras.layers.Dense(kernel.shape[1], activation="relu", dtype=model.dtype_policy,
                                   name=f"encoder_{k + 1}")
        dense.build((None, kernel.shape[0]))
        dense.set_weights([ops.convert_to_numpy(kernel), ops.convert_to_numpy(bias)])
        layers.append(dense)
    for k, layer in enumerate([] if head is None else head.layers):
        if not isinstance(layer, keras.layers.Dense):
            raise ValueError(f"head may hold Dense layers only, not {layer.name!r} ({type(layer).__name__})")
        if layer.kernel.shape[0] != layers[-1].units:
            raise ValueError(f"head layer {layer.name!r} takes {layer.kernel.shape[0]} inputs, "
                             f"the previous layer gives {layers[-1].units}")
        layers.append(_copy_dense(layer, f"head_{k + 1}"))
    return keras.Sequential(layers)


def column_type_sums(values: np.ndarray, column_types: np.ndarray) -> dict[str, np.ndarray]:
    """Per row, the sum of ``values`` (n, columns) over the columns of each feature type, the types
    in order of first appearance: e.g. LRP relevances of the flat MG vector summed per type.

    >>> column_type_sums(np.array([[1.0, 2.0, 4.0]]), np.array(["b", "a", "b"]))
    {'b': array([5.]), 'a': array([2.])}
    """
    values, column_types = np.asarray(values, dtype=float), np.asarray(column_types)
    if values.shape[-1] != len(column_types):
        raise ValueError(f"{values.shape[-1]} columns but {len(column_types)} column types")
    return {str(t): values[:, column_types == t].sum(axis=1) for t in dict.fromkeys(column_types.tolist())}


def reconstruction_error_per_type(x: np.ndarray, reconstruction: np.ndarray,
                                  column_types: np.ndarray) -> dict[str, float]:
    """Squared reconstruction error per feature type: Σ over the type's columns of (x − x̂)²,
    averaged over molecules. The types' errors add up to the mean ‖x − x̂‖², so they say which kinds
    of input the code keeps and which it gives up. Use the scaled inputs the model sees.

    >>> x, xhat = np.array([[1.0, 0.0, 2.0]]), np.array([[0.5, 0.0, 1.0]])
    >>> reconstruction_error_per_type(x, xhat, np.array(["atom type", "atom type", "spatial distance"]))
    {'atom type': 0.25, 'spatial distance': 1.0}
    """
    squared = np.square(np.asarray(x, dtype=float) - np.asarray(reconstruction, dtype=float))
    return {t: float(v.mean()) for t, v in column_type_sums(squared, column_types).items()}
