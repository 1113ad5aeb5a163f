"""The owner's page for POS API keys: list them, create one (shown once), revoke one (after confirming)."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from .api_keys import create_api_key, revoke_api_key
from .models import ApiKey, StaffMember
from .roles import staff_required


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=80,
        help_text="Which system will use it, e.g. “Front desk POS”.",
        error_messages={"required": "Give the key a name, e.g. the POS system that will use it."},
    )
    require_signature = forms.BooleanField(
        label="Require signed requests",
        required=False,
        help_text="Refuse requests that are not signed with the key's signing secret (X-Timestamp and X-Signature).",
    )


def _render(request, *, form: ApiKeyForm, raw_key: str = "", new_key: ApiKey | None = None, revoking=None):
    keys = ApiKey.objects.select_related("created_by", "revoked_by")
    context = {"form": form, "keys": keys, "raw_key": raw_key, "new_key": new_key, "revoking": revoking}
    return render(request, "practices/api_keys.html", context)


# never_cache everywhere: the page that shows a new key must not be kept by the browser or a proxy.
@never_cache
@staff_required(role=StaffMember.Role.OWNER)
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Shown in this response and never again: only the key's hash is stored, so it cannot be redirected to.
        # Its signing secret is shown beside it, once too: the POS developer needs both at the same time.
        key, raw_key = create_api_key(**form.cleaned_data, actor=request.user)
        return _render(request, form=ApiKeyForm(), raw_key=raw_key, new_key=key)
    return _render(request, form=form)


@never_cache
@staff_required(role=StaffMember.Role.OWNER)
def api_key_revoke(request, key_id: int):
    """GET asks to confirm; POST revokes."""
    key = get_object_or_404(ApiKey, pk=key_id)
    if request.method == "POST":
        revoke_api_key(key=key, actor=request.user)
        messages.success(request, f"“{key.name}” was revoked: requests made with it are refused from now on.")
        return redirect("practices:api_keys")
    if not key.is_active:
        messages.info(request, f"“{key.name}” is already revoked.")
        return redirect("practices:api_keys")
    return _render(request, form=ApiKeyForm(), revoking=key)
