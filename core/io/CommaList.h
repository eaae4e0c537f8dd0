#pragma once
// A list the user typed with commas ("coop, cocoop", "1,2,4"): its items, trimmed of spaces, empty ones left
// out. The CLI's flags and the window's fields read lists the same way.

#include <algorithm>
#include <string>
#include <vector>

namespace tunebench {

inline std::vector<std::string> splitCommaList(const std::string& text)
{
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::size_t first = text.find_first_not_of(" \t\r\n", start);
        if (first < comma) {
            const std::size_t last = text.find_last_not_of(" \t\r\n", comma - 1);
            items.push_back(text.substr(first, last - first + 1));
        }
        start = comma + 1;
    }
    return items;
}

} // namespace tunebench
