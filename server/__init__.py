"""Cradle's Django project: the OpenRosa server, the REST API and the pages."""
