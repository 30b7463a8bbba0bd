from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse("")


onboarding = switch = team = ssh_keys = audit = invitation_accept = _todo
