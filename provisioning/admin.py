from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Cluster, Drift, Image, IPPool, Node, Operation, Server


class ClusterForm(forms.ModelForm):
    token_secret = forms.CharField(
        label=_("API token secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current secret."),
    )

    class Meta:
        model = Cluster
        fields = "__all__"

    def save(self, commit=True):
        if self.cleaned_data.get("token_secret"):
            self.instance.token_secret = self.cleaned_data["token_secret"]
        return super().save(commit)


class NodeInline(admin.TabularInline):
    model = Node
    extra = 0
    fields = ["name", "kind", "provider", "status", "maintenance", "draining", "dedicated_tenant", "max_cores", "max_memory_mb"]
    readonly_fields = ["status", "max_cores", "max_memory_mb"]


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    form = ClusterForm
    list_display = ["name", "api_url", "token_id", "active", "last_reconciled_at", "reconcile_error"]
    inlines = [NodeInline]


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "cluster", "kind", "provider", "status", "maintenance", "draining", "dedicated_tenant"]
    list_filter = ["cluster", "kind", "provider", "status", "maintenance", "draining"]
    list_select_related = ["cluster", "dedicated_tenant"]
    search_fields = ["name"]


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "cluster", "tenant", "template_vmid", "volid", "active"]
    list_filter = ["kind", "cluster", "active"]
    list_select_related = ["cluster", "tenant"]


@admin.register(IPPool)
class IPPoolAdmin(admin.ModelAdmin):
    list_display = ["name", "cluster", "node", "network", "gateway", "range_start", "range_end"]


class OperationInline(admin.TabularInline):
    model = Operation
    extra = 0
    fields = ["kind", "state", "step_name", "error", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = ["hostname", "tenant", "kind", "status", "vmid", "node", "ipv4", "cores", "memory_mb", "disk_gb"]
    list_filter = ["status", "kind", "cluster", "node"]
    list_select_related = ["tenant", "node"]
    search_fields = ["hostname", "ipv4", "vmid"]
    inlines = [OperationInline]


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "state", "server", "tenant", "step_name", "attempts", "error"]
    list_filter = ["state", "kind"]
    list_select_related = ["server", "tenant"]
    readonly_fields = ["upid", "upid_node", "params"]


@admin.register(Drift)
class DriftAdmin(admin.ModelAdmin):
    list_display = ["kind", "cluster", "vmid", "node_name", "guest_name", "server", "first_seen_at", "resolved_at"]
    list_filter = ["kind", "cluster"]
