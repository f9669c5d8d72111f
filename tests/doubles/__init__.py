"""Test doubles of the external services Cradle talks to."""
