from django.core.cache import cache
from django_tenants.utils import tenant_context

from accounts.models import User
from practices.models import StaffMember
from tests.factories import StaffMemberFactory


def test_staff_of_one_practice_do_not_exist_in_another(alpha, beta):
    member = StaffMemberFactory(user__email="only@alpha.test")
    with tenant_context(beta):
        assert not User.objects.filter(email="only@alpha.test").exists()
        assert not StaffMember.objects.filter(pk=member.pk, user__email="only@alpha.test").exists()


def test_cache_keys_are_scoped_to_the_practice(alpha, beta):
    cache.set("greeting", "alpha's")
    with tenant_context(beta):
        assert cache.get("greeting") is None
        cache.set("greeting", "beta's")
    assert cache.get("greeting") == "alpha's"


def test_uploaded_files_live_under_the_practice_folder(alpha, media_root):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("branding/logo.txt", ContentFile(b"x"))
    assert (media_root / alpha.schema_name / name).exists()
    assert default_storage.url(name).startswith(f"/media/{alpha.schema_name}/")
