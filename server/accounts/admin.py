from django.contrib import admin

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
