"""The math students read: forward/backward pairs, layers, the joint loss, gradient checks, Adam.

Nothing in this package knows about audio, files or commands; it imports
only NumPy. A reading order for a first pass through backpropagation:

1. ``examples/backprop_walkthrough.py``: one forward and backward pass of a
   tiny model, printed quantity by quantity.
2. :mod:`numpy_sae.nn.functional`: every equation as a stateless
   ``forward -> (out, cache)`` / ``backward(dout, cache)`` pair.
3. :mod:`numpy_sae.nn.layers`: the same pairs with parameters and
   gradients; :mod:`numpy_sae.nn.init` for the starting weights.
4. :mod:`numpy_sae.nn.model`: the joint loss, and the line where the
   decoder's and the classifier's gradients add at the code; then the
   segment model, whose classifier reaches every frame's code through the
   mean/std pooling over time (``meanstd_pool_backward``), and whose optional
   front end is the spectrogram as a layer (``filterbank_backward``; its starts
   in :mod:`numpy_sae.nn.filterbanks`).
5. :mod:`numpy_sae.nn.gradcheck`: centered differences that prove each
   backward pass; :mod:`numpy_sae.teaching.gradcheck_demo` (a layer above) breaks
   one on purpose.
6. :mod:`numpy_sae.nn.optim`: SGD, momentum and Adam over name -> array dicts.
7. :mod:`numpy_sae.train`: the Trainer that feeds minibatches to a model
   and an optimizer.
8. :mod:`numpy_sae.commands.job`: the main job, from a folder of music to a report.
"""
