"""The ``anw`` command: the course's method for your own photos (``anw mark``, ``anw verify``).

Machinery, not a lesson: no lesson imports it. ``cli`` is the command (the ``anw`` script, also
``python -m anw_helpers.photo_cli``); ``marking`` marks a photo of any size in tiles (eq. 5).
Photos are read by the teaching core's ``anw_helpers.photos``, the same pixels a lesson reads.
"""
