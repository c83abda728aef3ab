"""Teaching tools that sit above the math: the graph picture, planted bugs, the exercises.

``nn`` holds what a student reads in order; what draws or grades it lives here and
imports ``nn``, never the other way round.
"""
