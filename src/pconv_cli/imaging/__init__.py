"""Pixels in and out, torch-free: reading images and masks (``images``), encoding outputs (``encode``), the
reproducible mask PNG writer (``png``), hole maps (``masks``), random mask generators (``maskgen``, drawn
exactly by ``raster``), centre crops (``crops``), input discovery (``inputs``) and the reading defaults
(``defaults``)."""
