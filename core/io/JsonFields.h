#pragma once
// Reading optional fields of JSON that users bring (configs, manifests). nlohmann's value<int>() turns a
// float into an integer by a plain cast: undefined behaviour when it is out of range (2e126 as an int) and
// a silent truncation otherwise. These refuse such input with an Error naming where it was.

#include "core/Error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <string>

namespace tunebench {

// `object[key]` as an integer, `fallback` when the key is absent (or `object` is no object). Error when
// the value is not an integer or does not fit `Integer`.
template <typename Integer>
Integer integerField(const nlohmann::json& object, const char* key, Integer fallback, const std::string& where)
{
    if (!object.is_object())
        return fallback;
    const auto it = object.find(key);
    if (it == object.end())
        return fallback;
    const auto fail = [&] {
        throw Error(where + ": \"" + key + "\" must be an integer between " + std::to_string(std::numeric_limits<Integer>::min()) +
                    " and " + std::to_string(std::numeric_limits<Integer>::max()) + ", got " + it->dump());
    };
    if (it->is_number_unsigned()) {
        const auto value = it->template get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(std::numeric_limits<Integer>::max()))
            fail();
        return static_cast<Integer>(value);
    }
    if (!it->is_number_integer())
        fail();
    const auto value = it->template get<std::int64_t>();
    if (value < static_cast<std::int64_t>(std::numeric_limits<Integer>::min()) ||
        (value > 0 && static_cast<std::uint64_t>(value) > static_cast<std::uint64_t>(std::numeric_limits<Integer>::max())))
        fail();
    return static_cast<Integer>(value);
}

// `object[key]` as a finite number, `fallback` when the key is absent. Error naming `where` and `key` when
// the value is no number (null is what a NaN becomes in JSON).
inline double numberField(const nlohmann::json& object, const char* key, double fallback, const std::string& where)
{
    if (!object.is_object())
        return fallback;
    const auto it = object.find(key);
    if (it == object.end())
        return fallback;
    if (!it->is_number() || !std::isfinite(it->get<double>()))
        throw Error(where + ": \"" + key + "\" must be a finite number, got " + it->dump());
    return it->get<double>();
}

} // namespace tunebench
