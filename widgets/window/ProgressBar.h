#pragma once
// The window's progress bars: one look, and text that stays readable where the chunk passes under it (the
// style draws that part in the palette's HighlightedText, which some palettes leave too close to Highlight).

#include <QColor>
#include <QPalette>
#include <QProgressBar>

namespace tunebench {

inline QProgressBar* makeProgressBar(QWidget* parent)
{
    auto* bar = new QProgressBar(parent);
    bar->setTextVisible(true);
    bar->setAlignment(Qt::AlignCenter);
    QPalette palette = bar->palette();
    // Black or white over the chunk, whichever contrasts more with it (relative luminance).
    const QColor chunk = palette.color(QPalette::Highlight);
    const double luminance = 0.2126 * chunk.redF() + 0.7152 * chunk.greenF() + 0.0722 * chunk.blueF();
    const QColor overChunk = luminance > 0.5 ? Qt::black : Qt::white;
    for (QPalette::ColorGroup group : {QPalette::Active, QPalette::Inactive, QPalette::Disabled})
        palette.setColor(group, QPalette::HighlightedText, overChunk);
    bar->setPalette(palette);
    return bar;
}

} // namespace tunebench
