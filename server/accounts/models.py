"""Who may do what where: a role and the areas (counties or townships) it covers."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    HEALTH_WORKER = "health_worker", "Health worker 村医"
    SUPERVISOR = "supervisor", "Supervisor 督导"
    ANALYST = "analyst", "Analyst 分析员"
    ADMIN = "admin", "Admin 管理员"


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cradle_profile"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    areas = models.JSONField(
        default=list,
        blank=True,
        help_text="County (6-digit) or township (9-digit) codes this user works in.",
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class DigestCredential(models.Model):
    """HA1 = MD5(username:realm:password), what HTTP Digest needs (ODK Collect offers only
    Digest over plain HTTP). Password-equivalent for this realm: kept apart from Django's
    password hash and written only when the password is set."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_credential"
    )
    realm = models.CharField(max_length=100)
    ha1 = models.CharField(max_length=32)

    def __str__(self) -> str:
        return f"Digest credential of {self.user} ({self.realm})"


class DigestNonce(models.Model):
    """A Digest nonce that has been used, with the highest nonce count (`nc`) seen for it.

    Kept in the database, not a per-process cache, so that every gunicorn worker refuses
    a replayed `Authorization` header; rows are deleted once the nonce has expired."""

    nonce = models.CharField(max_length=100, primary_key=True)
    nc = models.PositiveBigIntegerField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Digest nonce {self.nonce[:12]}… (nc {self.nc})"
