#!/usr/bin/env python3
"""A small stand-in for the stack's CloudFront distribution, for the browser test.

Serves GET and HEAD of the destination bucket's objects from the S3 emulator (moto) at the
same paths CloudFront would (`/cats/tabby%20cat-hd.mp4` is the key `cats/tabby cat-hd.mp4`),
`/` as the default root object `index.html`, with the object's Content-Type, Cache-Control
and ETag, and Range requests answered 206 by S3 itself (browsers read videos in ranges).
A missing key is 403, as CloudFront with an origin access control answers when the OAC may
not list the bucket. On 127.0.0.1 only.

    python cloudfront_standin.py --s3 http://127.0.0.1:PORT --bucket NAME --port 0
    # prints "listening on http://127.0.0.1:<port>"
"""
import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import boto3
from botocore.exceptions import ClientError

PASSED = ("Content-Type", "Content-Length", "Content-Range", "Cache-Control", "ETag", "Last-Modified")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--s3", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--root", default="index.html")
    args = parser.parse_args()
    s3 = boto3.client("s3", endpoint_url=args.s3, region_name=args.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def do_HEAD(self):
            self.serve(body=False)

        def do_GET(self):
            self.serve(body=True)

        def serve(self, body):
            path = urlsplit(self.path).path
            key = unquote(path[1:]) or args.root
            params = {"Bucket": args.bucket, "Key": key}
            if self.headers.get("Range"):
                params["Range"] = self.headers["Range"]
            try:
                got = s3.get_object(**params)
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                status = 403 if status == 404 else status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = got["ResponseMetadata"]["HTTPHeaders"]
            data = got["Body"].read()
            self.send_response(got["ResponseMetadata"]["HTTPStatusCode"])
            for name in PASSED:
                value = headers.get(name.lower())
                if value is not None and name != "Content-Length":
                    self.send_header(name, value)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
