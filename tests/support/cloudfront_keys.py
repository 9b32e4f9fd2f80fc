"""CloudFront public keys and key groups in moto, corrected where moto differs from AWS's
CloudFront API reference (imported by moto_server.py, which applies it):

- moto has no UpdateKeyGroup and no DeleteKeyGroup; CloudFront has both, each with the
  ETag of the last read in If-Match (PreconditionFailed when it is stale, InvalidIfMatchVersion
  when it is missing), and refuses to delete a group a distribution's behavior trusts
  (ResourceInUse);
- moto deletes a public key a key group still lists; CloudFront refuses (PublicKeyInUse);
- moto drops a public key's and a key group's Comment; CloudFront keeps it;
- moto's GetPublicKey and GetKeyGroup of an unknown id fail with a server error; CloudFront
  answers NoSuchPublicKey and NoSuchResource (404).
"""
from __future__ import annotations

from moto.cloudfront import models as _cloudfront
from moto.cloudfront import responses as _responses
from moto.cloudfront.exceptions import CloudFrontException
from moto.moto_api._internal import mock_random


class _Error(CloudFrontException):
    """An error of CloudFront's model: moto takes its HTTP status from the model."""


def _new_etag() -> str:
    return mock_random.get_random_hex(14).upper()


def _listed(value) -> list:
    if isinstance(value, dict):
        value = next(iter(value.values()), [])
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _trusted_groups(backend) -> set[str]:
    groups = set()
    for dist in backend.distributions.values():
        config = dist.distribution_config
        behaviors = [config.DefaultCacheBehavior]
        cache = getattr(config, "CacheBehaviors", None) or {}
        behaviors += _listed(cache.get("Items") if isinstance(cache, dict) else None)
        for behavior in behaviors:
            trusted = getattr(behavior, "trusted_key_groups", None)
            if trusted is not None and trusted.enabled:
                groups.update(_listed(trusted.items))
    return groups


def _check_etag(resource, if_match: str | None) -> None:
    if not if_match:
        raise _Error("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
    if if_match != resource.etag:
        raise _Error("PreconditionFailed", "The If-Match version does not match the resource's.")


_create_public_key = _cloudfront.CloudFrontBackend.create_public_key
_create_key_group = _cloudfront.CloudFrontBackend.create_key_group


def get_public_key(self, key_id: str):
    if key_id not in self.public_keys:
        raise _Error("NoSuchPublicKey", "The specified public key does not exist.")
    return self.public_keys[key_id]


def delete_public_key(self, key_id: str, if_match: str | None = None) -> None:
    key = get_public_key(self, key_id)
    _check_etag(key, if_match)
    if any(key_id in _listed(group.items) for group in self.key_groups.values()):
        raise _Error("PublicKeyInUse", "The specified public key is in use.")
    self.public_keys.pop(key_id)


def get_key_group(self, group_id: str):
    if group_id not in self.key_groups:
        raise _Error("NoSuchResource", "The specified key group does not exist.")
    return self.key_groups[group_id]


def update_key_group(self, group_id: str, name: str, items: list[str], comment: str, if_match: str | None):
    group = get_key_group(self, group_id)
    _check_etag(group, if_match)
    group.name, group.items, group.comment = name, _listed(items), comment
    group.etag = _new_etag()
    return group


def delete_key_group(self, group_id: str, if_match: str | None) -> None:
    group = get_key_group(self, group_id)
    _check_etag(group, if_match)
    if group_id in _trusted_groups(self):
        raise _Error("ResourceInUse", "Cannot delete this resource because it is in use.")
    self.key_groups.pop(group_id)


_cloudfront.CloudFrontBackend.get_public_key = get_public_key
_cloudfront.CloudFrontBackend.delete_public_key = delete_public_key
_cloudfront.CloudFrontBackend.get_key_group = get_key_group
_cloudfront.CloudFrontBackend.update_key_group = update_key_group
_cloudfront.CloudFrontBackend.delete_key_group = delete_key_group

# Comments kept, as CloudFront does.
_key_group_config = _cloudfront.KeyGroup.key_group_config
_cloudfront.KeyGroup.key_group_config = property(
    lambda self: {**_key_group_config.fget(self), "Comment": getattr(self, "comment", "")}
)

_Response = _responses.CloudFrontResponse
_create_public_key_response = _Response.create_public_key
_create_key_group_response = _Response.create_key_group


def _create_public_key_keeping_comment(self):
    result = _create_public_key_response(self)
    comment = (self._get_param("PublicKeyConfig") or {}).get("Comment") or ""
    key = result.result["PublicKey"] if hasattr(result, "result") else None
    if key is not None:
        key.comment = comment
    return result


def _create_key_group_keeping_comment(self):
    result = _create_key_group_response(self)
    group = result.result["KeyGroup"] if hasattr(result, "result") else None
    if group is not None:
        group.comment = self._get_param("KeyGroupConfig.Comment") or ""
    return result


def _delete_public_key(self):
    self.backend.delete_public_key(self._get_param("Id"), self.headers.get("If-Match"))
    return _responses.EmptyResult()


def _update_key_group(self):
    group = self.backend.update_key_group(
        self._get_param("Id"),
        self._get_param("KeyGroupConfig.Name"),
        self._get_param("KeyGroupConfig.Items", []),
        self._get_param("KeyGroupConfig.Comment") or "",
        self.headers.get("If-Match"),
    )
    return _responses.ActionResult({"KeyGroup": group, "ETag": group.etag})


def _delete_key_group(self):
    self.backend.delete_key_group(self._get_param("Id"), self.headers.get("If-Match"))
    return _responses.EmptyResult()


_Response.create_public_key = _create_public_key_keeping_comment
_Response.create_key_group = _create_key_group_keeping_comment
_Response.delete_public_key = _delete_public_key
_Response.update_key_group = _update_key_group
_Response.delete_key_group = _delete_key_group
