"""Teaching tools that sit above the math: pictures of a network's computational graph.

``nn`` holds what a student reads in order; what draws or grades it lives here and
imports ``nn``, never the other way round.
"""
