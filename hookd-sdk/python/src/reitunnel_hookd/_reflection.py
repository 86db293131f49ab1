"""gRPC server reflection (grpc.reflection.v1alpha and v1) for HookServer,
answered from the process's default descriptor pool, so grpcurl and other
generic tools can call the hook without its .proto.

Debian has no python3-grpcio-reflection, so this implements the protocol
over stubs generated from grpc-proto's reflection.proto."""

from __future__ import annotations

import importlib

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool

_VERSIONS = ("v1alpha", "v1")


def _serialized(file_descriptor):
    serialized = getattr(file_descriptor, "serialized_pb", None)
    if serialized:
        return serialized
    proto = descriptor_pb2.FileDescriptorProto()
    file_descriptor.CopyToProto(proto)
    return proto.SerializeToString()


class _Reflection:
    def __init__(self, pb2, services, pool):
        self._pb2 = pb2
        self._services = sorted(services)
        self._pool = pool

    def ServerReflectionInfo(self, request_iterator, context):
        # Files already sent on this stream are not repeated.
        sent = set()
        for request in request_iterator:
            yield self._answer(request, sent)

    def _files(self, file_descriptor, sent):
        """The file and its transitive dependencies not yet sent."""
        out = []
        stack = [file_descriptor]
        while stack:
            fd = stack.pop()
            if fd.name in sent:
                continue
            sent.add(fd.name)
            out.append(_serialized(fd))
            stack.extend(fd.dependencies)
        return out

    def _answer(self, request, sent):
        pb2 = self._pb2
        response = pb2.ServerReflectionResponse(valid_host=request.host,
                                                original_request=request)
        which = request.WhichOneof("message_request")
        try:
            if which == "list_services":
                response.list_services_response.service.extend(
                    pb2.ServiceResponse(name=name) for name in self._services)
            elif which == "file_by_filename":
                fd = self._pool.FindFileByName(request.file_by_filename)
                response.file_descriptor_response.file_descriptor_proto.extend(
                    self._files(fd, sent))
            elif which == "file_containing_symbol":
                fd = self._pool.FindFileContainingSymbol(request.file_containing_symbol)
                response.file_descriptor_response.file_descriptor_proto.extend(
                    self._files(fd, sent))
            elif which == "file_containing_extension":
                ext = request.file_containing_extension
                message = self._pool.FindMessageTypeByName(ext.containing_type)
                extension = self._pool.FindExtensionByNumber(message, ext.extension_number)
                response.file_descriptor_response.file_descriptor_proto.extend(
                    self._files(extension.file, sent))
            elif which == "all_extension_numbers_of_type":
                message = self._pool.FindMessageTypeByName(request.all_extension_numbers_of_type)
                answer = response.all_extension_numbers_response
                answer.base_type_name = message.full_name
                answer.extension_number.extend(
                    sorted(e.number for e in self._pool.FindAllExtensions(message)))
            else:
                response.error_response.error_code = grpc.StatusCode.INVALID_ARGUMENT.value[0]
                response.error_response.error_message = "unknown reflection request"
        except KeyError as e:
            response.ClearField("message_response")
            response.error_response.error_code = grpc.StatusCode.NOT_FOUND.value[0]
            response.error_response.error_message = f"not found: {e}"
        return response


def _versions():
    """(pb2, pb2_grpc) for each reflection version whose stubs were built."""
    found = []
    for version in _VERSIONS:
        prefix = f"._proto.grpc.reflection.{version}"
        try:
            pb2 = importlib.import_module(f"{prefix}.reflection_pb2", __package__)
            pb2_grpc = importlib.import_module(f"{prefix}.reflection_pb2_grpc", __package__)
        except ImportError:  # grpc-proto without v1
            continue
        found.append((pb2, pb2_grpc))
    return found


def add_reflection(server, services, pool=None):
    """Serves reflection on `server`, listing `services` (full names) and
    itself; returns the names of the reflection services added."""
    pool = pool or descriptor_pool.Default()
    versions = _versions()
    added = [pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name
             for pb2, _ in versions]
    for pb2, pb2_grpc in versions:
        pb2_grpc.add_ServerReflectionServicer_to_server(
            _Reflection(pb2, list(services) + added, pool), server)
    return added
