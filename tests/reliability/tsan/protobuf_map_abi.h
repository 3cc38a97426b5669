// Force-included (-include) first into every C++ file of a TSan build.
//
// Debian's libprotobuf is built without TSan, but protobuf's map_field.h
// gives MapFieldBase two extra members when __SANITIZE_THREAD__ is defined.
// Code compiled with -fsanitize=thread would then disagree with the library
// about the layout of every message that has a map field (the owner
// metadata of a lease) and crash. Including map_field.h here, with the
// macro hidden, fixes the layout to the library's for the whole file; its
// include guard keeps later includes from changing it.
#ifndef PORTLEASE_TESTS_RELIABILITY_TSAN_PROTOBUF_MAP_ABI_H_
#define PORTLEASE_TESTS_RELIABILITY_TSAN_PROTOBUF_MAP_ABI_H_

// libstdc++'s configuration first, so that it still sees TSan.
#include <cstddef>

#pragma push_macro("__SANITIZE_THREAD__")
#undef __SANITIZE_THREAD__
#include <google/protobuf/map_field.h>
#pragma pop_macro("__SANITIZE_THREAD__")

#endif  // PORTLEASE_TESTS_RELIABILITY_TSAN_PROTOBUF_MAP_ABI_H_
