"""Wiring the ingestion core to this server's CouchDB, forms, registry and clock."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings

from forms.catalog import FormCatalog
from server.core.couch import cradle_db
from server.core.places import registry_places
from sync.ingest.store import Ingestor, Limits


@lru_cache(maxsize=1)
def form_catalog() -> FormCatalog:
    return FormCatalog.from_dir(settings.FORMS_BUILD_DIR)


def local_today() -> date:
    """Today where the health workers are: a date after this is in the future."""
    return datetime.now(ZoneInfo(settings.TIME_ZONE)).date()


def ingest_limits() -> Limits:
    conf = settings.CRADLE_LIMITS
    return Limits(
        max_xml_bytes=conf["MAX_XML_BYTES"],
        max_attachment_bytes=conf["MAX_ATTACHMENT_BYTES"],
        max_attachments=conf["MAX_ATTACHMENTS"],
    )


def get_ingestor() -> Ingestor:
    return Ingestor(
        submissions=cradle_db("submissions"),
        quarantine_db=cradle_db("quarantine"),
        catalog=form_catalog(),
        places=registry_places(),
        today=local_today,
        limits=ingest_limits(),
    )
