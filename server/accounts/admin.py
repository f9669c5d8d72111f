from django.contrib import admin

from server.accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "areas")
    list_filter = ("role",)
    search_fields = ("user__username",)
