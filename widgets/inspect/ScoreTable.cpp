#include "widgets/inspect/ScoreTable.h"

#include <QHeaderView>
#include <QProgressBar>
#include <QString>
#include <QTableWidget>

#include <cmath>

namespace tunebench {

QString probabilityText(double probability)
{
    return QStringLiteral("%1 %").arg(probability * 100, 0, 'f', 1);
}

QTableWidget* makeScoreTable(QWidget* parent, const char* objectName)
{
    auto* table = new QTableWidget(0, 2, parent);
    table->setObjectName(objectName);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->setSelectionMode(QAbstractItemView::NoSelection);
    table->verticalHeader()->setVisible(false);
    table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    return table;
}

void fillScoreTable(QTableWidget* table, const std::vector<ClassScore>& scores)
{
    table->setRowCount(static_cast<int>(scores.size()));
    for (int row = 0; row < table->rowCount(); ++row) {
        const ClassScore& score = scores[static_cast<size_t>(row)];
        auto* name = new QTableWidgetItem(QString::fromStdString(score.className));
        name->setData(Qt::UserRole, score.probability);  // exact, for tests; the bar shows it rounded
        table->setItem(row, 0, name);
        auto* bar = new QProgressBar(table);
        bar->setRange(0, 1000);
        bar->setValue(static_cast<int>(std::lround(score.probability * 1000)));
        bar->setFormat(probabilityText(score.probability));
        bar->setTextVisible(true);
        table->setCellWidget(row, 1, bar);
    }
}

} // namespace tunebench
