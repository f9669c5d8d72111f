from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from server.accounts.credentials import revoke_api_tokens
from server.accounts.models import Profile
from server.core.audit import audit_event


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "areas")
    list_filter = ("role",)
    search_fields = ("user__username",)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        audit_event(
            "user.role_changed" if change else "user.created",
            actor=request.user.get_username(),
            source="admin",
            request=request,
            target=f"user:{obj.user.get_username()}",
            detail={"role": obj.role, "areas": obj.areas},
        )


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class CradleUserAdmin(UserAdmin):
    """Django's user admin (its password forms apply the password validators); unticking
    *active* also revokes the user's API tokens, as `cradle users deactivate` does."""

    def save_model(self, request, obj, form, change) -> None:
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        reactivated = change and "is_active" in form.changed_data and obj.is_active
        if deactivated or reactivated:
            revoked = revoke_api_tokens(obj) if deactivated else 0
            audit_event(
                "user.deactivated" if deactivated else "user.activated",
                actor=request.user.get_username(),
                source="admin",
                request=request,
                target=f"user:{obj.get_username()}",
                detail={"api_tokens_revoked": revoked},
            )
