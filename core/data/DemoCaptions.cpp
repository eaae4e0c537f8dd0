#include "core/data/DemoCaptions.h"

#include "core/data/ImageDomains.h"
#include "core/train/ContrastivePretraining.h"

#include <algorithm>
#include <map>

namespace tunebench {

std::vector<std::string> classPhrases(const std::string& className)
{
    static const std::map<std::string, std::vector<std::string>> fashion = {
        {"T-shirt/top", {"t-shirt", "tee", "tank top", "casual cotton top"}},
        {"Trouser", {"trousers", "pants", "jeans", "pair of long pants"}},
        {"Pullover", {"sweater", "jumper", "knitted sweatshirt", "warm knitted top"}},
        {"Dress", {"gown", "frock", "summer dress", "one-piece garment with a skirt"}},
        {"Coat", {"jacket", "overcoat", "parka", "warm outer garment"}},
        {"Sandal", {"sandals", "flip-flop", "strappy summer shoe", "open shoe with straps"}},
        {"Shirt", {"blouse", "button-up shirt", "collared shirt", "shirt with buttons"}},
        {"Sneaker", {"trainer", "running shoe", "sports shoe", "low canvas shoe"}},
        {"Bag", {"handbag", "purse", "tote", "bag with a handle"}},
        {"Ankle boot", {"boot", "bootie", "chelsea boot", "short leather boot"}},
    };
    std::vector<std::string> phrases = {className};
    if (const auto found = fashion.find(className); found != fashion.end())
        phrases.insert(phrases.end(), found->second.begin(), found->second.end());
    return phrases;
}

CaptionCorpus buildCaptionCorpus(const std::vector<std::string>& classNames, const std::vector<int>& domains)
{
    CaptionCorpus corpus;
    const auto& known = imageDomains();
    for (int domain : domains) {
        const ImageDomain& info = known.at(static_cast<std::size_t>(domain));
        for (const std::string& className : classNames) {
            const std::vector<std::string> phrases = classPhrases(className);
            std::vector<std::int64_t> rows;
            for (const std::string& templ : info.captionTemplates)
                for (std::size_t p = 0; p < phrases.size(); ++p) {
                    // The canonical name is drawn twice as often as each alternative: a third of the captions.
                    const std::int64_t row = static_cast<std::int64_t>(corpus.captions.size());
                    rows.insert(rows.end(), p == 0 ? 2 : 1, row);
                    corpus.captions.push_back(fillTemplate(templ, phrases[p]));
                }
            corpus.groupCaptions.push_back(std::move(rows));
        }
    }
    return corpus;
}

} // namespace tunebench
