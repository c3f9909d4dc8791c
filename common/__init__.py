"""common: what every package of the toolkit shares and that belongs to none of them.

``common.cli`` is the command-line plumbing of ``python -m zoo|compare|reports`` (the one-line
bad-input contract and its argument parser, option parsing, quiet TensorFlow start-up).
``common.text`` formats counts (``human_count``) and plain-text tables (``text_table``).
``common.conventions`` holds the counting conventions every table states. Imports nothing of the
project and nothing heavy.
"""
