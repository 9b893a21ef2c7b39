"""Loss landscapes of a small tanh network explored like molecular energy landscapes (Module 7).

Written in numpy/scipy (no pele): :mod:`network` (loss, gradient, Hessian), :mod:`symmetry`
(canonical form, alignment), :mod:`minima` (basin-hopping), :mod:`transition` (CI-NEB and
eigenvector following), :mod:`disconnectivity` (levels, nodes, drawing), :mod:`conserved`
(conserved weights per node) and :mod:`datasets` (checkerboard, breast cancer).
"""
