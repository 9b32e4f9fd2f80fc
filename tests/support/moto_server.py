"""Starts moto's server for cattube's tests, with two corrections.

moto applies a bucket-policy statement even when it cannot evaluate the statement's
condition, so the TLS-only statement every cattube bucket carries
(Deny s3:* when aws:SecureTransport is false) denies every object request. Real S3 evaluates
the condition; for the HTTPS requests our clients make to AWS it is false and the statement
does not apply. The emulator stands in for those HTTPS endpoints, so this launcher evaluates
aws:SecureTransport as true and leaves everything else to moto.

moto's CloudFront drops `OriginAccessControlId` and `S3OriginConfig` from a distribution's
origins (on create and on update alike), so a distribution created with an Origin Access
Control reads back as if it had none, and cattube would report "OAC detached" forever. The
launcher keeps both fields on the origin, as CloudFront does. What moto still cannot check
(an OAC in use refusing deletion, disable-before-delete, ETags) is covered by cattube's
aws-smithy-mocks tests.

For a bucket without event notifications moto answers
GetBucketNotificationConfiguration with an empty <GetBucketNotificationResponse/>, which no
SDK parses; S3 answers an empty <NotificationConfiguration/>, and so does this launcher.

Usage: python tests/support/moto_server.py -H 127.0.0.1 -p PORT
"""

from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.s3.responses import S3Response
from moto.server import main

_is_action_permitted = IAMPolicyStatement.is_action_permitted


def _secure_transport_aware(self, action, resource="*", principal=None, incoming_condition_values=None):
    condition = self._statement.get("Condition") or {}
    for operator in ("Bool", "BoolIfExists"):
        secure = (condition.get(operator) or {}).get("aws:SecureTransport")
        if secure is not None and str(secure).lower() == "false":
            # The request is taken as made over TLS: the statement does not apply.
            return PermissionResult.NEUTRAL
    return _is_action_permitted(self, action, resource, principal, incoming_condition_values)


IAMPolicyStatement.is_action_permitted = _secure_transport_aware


from moto.cloudfront import models as _cloudfront  # noqa: E402

_origin_init = _cloudfront.Origin.__init__


def _origin_keeping_oac(self, origin):
    _origin_init(self, origin)
    # Serialised by moto under the API's member names (OriginAccessControlId, S3OriginConfig).
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
    if "S3OriginConfig" in origin:
        self.s3_origin_config = {
            "OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity") or ""
        }


_cloudfront.Origin.__init__ = _origin_keeping_oac

_get_bucket_notification = S3Response.get_bucket_notification
_EMPTY_NOTIFICATION = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
)


def _get_bucket_notification_like_s3(self):
    if not self.backend.get_bucket_notification_configuration(self.bucket_name):
        return 200, {"Content-Type": "application/xml"}, _EMPTY_NOTIFICATION
    return _get_bucket_notification(self)


S3Response.get_bucket_notification = _get_bucket_notification_like_s3

if __name__ == "__main__":
    main()
