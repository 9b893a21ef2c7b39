"""The runs that make the committed artefacts, one module per ``course`` command.

Each module holds a protocol's bookkeeping (sizes, the record it writes, how it merges a run made
in several processes) over the library code that does the work, so that the command line only
parses options: :mod:`krr_curves` (``course krr-curves``), :mod:`krr_nystrom` (``course
krr-nystrom``), :mod:`cmb_baselines` (``course cmb-baselines``), :mod:`cmb_figure` (``course
cmb-figure``) and :mod:`landscapes` (``course landscapes``).
"""
