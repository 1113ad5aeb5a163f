"""The owner's branding page, the public terms and privacy pages, and the pictures drawn from the logo."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .brand_images import ICONS, brand_picture, picture_url
from .branding import BrandingRefused, program_texts, update_branding, update_program_texts
from .colours import best_text_on, contrast_ratio, text_on_white
from .forms_branding import BrandingForm, ProgramTextsForm
from .models import StaffMember
from .page_helpers import add_domain_error
from .program_texts import render_text
from .roles import staff_required
from .selectors import brand_version, current_practice

# Pictures asked for with their current version (?v=) never change: browsers keep them for a year.
VERSIONED_SECONDS = 365 * 24 * 3600
UNVERSIONED_SECONDS = 3600


def _branding_form(practice, data=None, files=None) -> BrandingForm:
    initial = {
        "name": practice.name,
        "short_name": practice.short_name,
        "primary_color": practice.primary_color,
        "accent_color": practice.accent_color,
        "sms_sender_name": practice.sms_sender_name,
    }
    return BrandingForm(data, files, initial=initial)


def _texts_form(data=None) -> ProgramTextsForm:
    texts = program_texts()
    return ProgramTextsForm(data, initial={field: text.text for field, text in texts.items()})


def _page(request, *, branding_form=None, texts_form=None, status=200):
    practice = current_practice()
    colours = []
    for label, colour in (("Primary", practice.primary_color), ("Accent", practice.accent_color)):
        text = best_text_on(colour)
        colours.append(
            {
                "label": label,
                "colour": colour,
                "text": "white" if text.colour == "#ffffff" else "near-black",
                "ratio": f"{contrast_ratio(colour, text.colour):.1f}",
            }
        )
    link = text_on_white(practice.primary_color)
    context = {
        "branding_form": branding_form or _branding_form(practice),
        "texts_form": texts_form or _texts_form(),
        "texts": program_texts(),
        "colours": colours,
        "link_colour": link if link != practice.primary_color else "",
        "icon_url": picture_url(practice, "icon-192"),
    }
    return render(request, "practices/branding.html", context, status=status)


@never_cache
@staff_required(role=StaffMember.Role.OWNER)
@require_http_methods(["GET", "POST"])
def branding_settings(request):
    """The practice's name, logo, colours and SMS sender name (POST), and the page with both forms (GET)."""
    if request.method == "GET":
        return _page(request)
    form = _branding_form(current_practice(), request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            update_branding(
                actor=request.user,
                name=data["name"],
                short_name=data["short_name"],
                primary_color=data["primary_color"],
                accent_color=data["accent_color"],
                sms_sender_name=data["sms_sender_name"],
                logo=data["logo"] or None,
                remove_logo=data["remove_logo"],
            )
        except BrandingRefused as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "Your branding was saved. Patients see it on their next visit.")
            return redirect("practices:branding")
    return _page(request, branding_form=form, status=400)


@never_cache
@staff_required(role=StaffMember.Role.OWNER)
@require_POST
def program_texts_settings(request):
    """The program terms and privacy notice (POST; shown on the branding page)."""
    form = ProgramTextsForm(request.POST)
    if form.is_valid():
        try:
            update_program_texts(actor=request.user, **form.cleaned_data)
        except BrandingRefused as error:
            add_domain_error(form, error)
        else:
            messages.success(request, "The terms and privacy notice were saved.")
            return redirect("practices:branding")
    return _page(request, texts_form=form, status=400)


@require_safe
def terms(request):
    return _text_page(request, field="terms", title="Program terms")


@require_safe
def privacy(request):
    return _text_page(request, field="privacy", title="Privacy notice")


def _text_page(request, *, field: str, title: str):
    text = program_texts()[field]
    return render(
        request,
        "practices/program_text.html",
        {"title": title, "body": render_text(text.text), "updated_at": text.updated_at},
    )


@require_safe
def brand_picture_view(request, name: str):
    """/icons/<name>.png: the app's icons and the link-preview picture, drawn from the logo (or initials)."""
    if name not in ICONS:
        raise Http404("No such picture.")
    practice = current_practice()
    response = HttpResponse(brand_picture(practice, name), content_type="image/png")
    if request.GET.get("v") == brand_version(practice):
        response["Cache-Control"] = f"public, max-age={VERSIONED_SECONDS}, immutable"
    else:
        response["Cache-Control"] = f"public, max-age={UNVERSIONED_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    return response
