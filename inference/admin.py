from django.contrib import admin, messages

from inference.models import ModelVersion
from inference.services import model_version_activate


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "is_active", "artifact", "created_at")
    list_filter = ("is_active", "name")
    search_fields = ("name", "version")
    readonly_fields = ("name", "version", "artifact", "classes", "metrics", "created_at")
    exclude = ("is_active",)
    actions = ["activate"]

    def has_add_permission(self, request) -> bool:
        # Versions come from `manage.py register_model`, which copies the artifact files.
        return False

    @admin.action(description="Make the selected model version the active one")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model version.", messages.ERROR)
            return
        model_version = model_version_activate(model_version=queryset.get())
        self.message_user(request, f"{model_version.name} {model_version.version} is active.")
