"""Small float64 weave models and padded batches with random weights and features, shared by the
LRP and perturbation tests of the weave model."""
import numpy as np

from course.models.weave import build_weave_model

SMALL = dict(width=5, n_layers=2, readout_width=4, head=(6,), distance_centers=(0.0, 1.5, 3.0), distance_width=0.7)


def small_model(seed, zero_bias=False, n_outputs=1):
    """A float64 weave model with random weights, biases, baseline, offset and scale. The readout and
    the hidden head layer get positive kernels, so that they are not dead on the ReLU outputs below."""
    rng = np.random.default_rng(seed)
    model = build_weave_model(**SMALL, n_outputs=n_outputs, dtype="float64")
    for w in model.weights:
        zero = zero_bias and w.path.endswith("/bias")
        value = np.zeros(w.shape) if zero else 0.5 * rng.normal(size=w.shape)
        w.assign(np.abs(value) if w.path.endswith(("project/kernel", "head_0/kernel")) else value)
    return model


def random_batch(rng, n_atoms, pad_to):
    """Padded inputs of molecules with ``n_atoms`` atoms: symmetric pair features, positive distances."""
    b = len(n_atoms)
    real = np.arange(pad_to) < np.asarray(n_atoms)[:, None]
    pair_mask = real[:, :, None] & real[:, None, :] & ~np.eye(pad_to, dtype=bool)
    pairs = rng.normal(size=(b, pad_to, pad_to, 13))
    pairs[..., -1] = rng.uniform(0.9, 4.0, size=(b, pad_to, pad_to))
    pairs = (pairs + pairs.transpose(0, 2, 1, 3)) / 2 * pair_mask[..., None]
    atoms = rng.normal(size=(b, pad_to, 21)) * real[..., None]
    return {"atoms": atoms, "pairs": pairs, "atom_mask": real.astype(float), "pair_mask": pair_mask.astype(float)}
