"""common: what every package of the toolkit shares and that belongs to none of them.

``common.cli`` is the command-line plumbing of ``python -m zoo|compare|reports`` (quiet TensorFlow
start-up, the one-line bad-input contract, shape parsing). ``common.conventions`` holds the
counting conventions every table states. Imports nothing of the project and nothing heavy.
"""
