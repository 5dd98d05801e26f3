"""A digit reader for a mail-sorting line, fed by two scanner sites.

``data`` builds the training and evaluation splits of both sites, ``model``
defines the CNN and loads the committed weights, ``train`` reproduces those
weights and ``measure`` prints the figures that the release gates were set from.
"""
