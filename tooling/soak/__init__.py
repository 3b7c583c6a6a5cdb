"""Soak runs with fault injection (``bordersync soak``): ``run`` drives them, ``fleet`` starts the
private stack's processes, ``pub`` is the publisher child, ``truth`` checks the outputs against the
simulator's ground truth and ``diag`` explains what differs."""
