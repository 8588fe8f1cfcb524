// Tests for actors/round_columns.hpp: the header is rounds.csv's, rows read back to the values
// they were written from, and JSON rows say null where a cell is empty or not a number.
#include "actors/round_columns.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace baffle {
namespace {

round_row sample_row() {
  round_row row;
  row.rec.round = 7;
  row.rec.end_time = sim_time::from_ns(12345678901);
  row.rec.train_loss = 0.5;
  row.rec.test_acc = 0.875;
  row.rec.test_loss = 0.25;
  row.rec.selected = 5;
  row.rec.participants = 4;
  row.rec.dropped = 1;
  row.rec.bytes_up = 1000;
  row.rec.bytes_down = 2000;
  row.rec.forward_passes = 404;
  row.rec.stale_mean = 1.5;
  row.rec.stale_max = 3;
  row.rec.node_bytes = 77;
  row.wall_s = 1.25;
  return row;
}

TEST(RoundColumns, HeaderIsTheDocumentedOne) {
  EXPECT_EQ(rounds_csv_header(),
            "round,sim_time_s,wall_time_s,train_loss,test_loss,test_acc,val_loss,val_acc,"
            "selected,participants,dropped,late,bytes_up,bytes_down,forward_passes,"
            "wasted_forward_passes,stale_mean,stale_max,grad_cosine,grad_norm_ratio,true_grad_norm,"
            "test_loss_raw,test_acc_raw,test_loss_lowp,test_acc_lowp,node_bytes");
}

TEST(RoundColumns, RowsReadBackToTheirValues) {
  const round_row row = sample_row();
  const std::string text = rounds_csv_row(row);
  EXPECT_EQ(text,
            "7,12.345678901,1.250,0.500000,0.250000,0.875000,,,5,4,1,0,1000,2000,404,0,1.5000,3,,,,"
            ",,,,77");
  const auto back = parse_rounds_csv_row(text + "\r");
  ASSERT_TRUE(back);
  EXPECT_EQ(rounds_csv_row(*back), text);
  EXPECT_EQ(back->rec.end_time.ns, row.rec.end_time.ns);
  EXPECT_FALSE(back->rec.val_acc.has_value());
  EXPECT_FALSE(parse_rounds_csv_row(rounds_csv_header()));
  EXPECT_FALSE(parse_rounds_csv_row(text.substr(0, text.size() / 2)));  // half a row
  EXPECT_FALSE(parse_rounds_csv_row(text + ",1"));
}

TEST(RoundColumns, MeasuredGradientCellsAreWrittenAndReadBack) {
  round_row row = sample_row();
  row.rec.grad_cosine = 0.0627;
  row.rec.grad_norm_ratio = 15.98;
  row.rec.true_grad_norm = 2.5;
  const std::string text = rounds_csv_row(row);
  EXPECT_NE(text.find(",3,0.062700,15.980000,2.500000,,,,,77"), std::string::npos) << text;
  const auto back = parse_rounds_csv_row(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->rec.grad_cosine, 0.0627);
  EXPECT_EQ(back->rec.grad_norm_ratio, 15.98);
  EXPECT_EQ(back->rec.true_grad_norm, 2.5);
  EXPECT_NE(rounds_json_object(row).find("\"grad_cosine\":0.062700"), std::string::npos);
}

TEST(RoundColumns, RawAndLowPrecisionEvaluationCellsAreWrittenAndReadBack) {
  round_row row = sample_row();
  row.rec.test_loss_raw = 0.5;
  row.rec.test_acc_raw = 0.75;
  row.rec.test_loss_lowp = 0.3125;
  row.rec.test_acc_lowp = 0.8625;
  const std::string text = rounds_csv_row(row);
  EXPECT_NE(text.find(",0.500000,0.750000,0.312500,0.862500,77"), std::string::npos) << text;
  const auto back = parse_rounds_csv_row(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->rec.test_loss_raw, 0.5);
  EXPECT_EQ(back->rec.test_acc_raw, 0.75);
  EXPECT_EQ(back->rec.test_loss_lowp, 0.3125);
  EXPECT_EQ(back->rec.test_acc_lowp, 0.8625);
  EXPECT_NE(rounds_json_object(row).find("\"test_acc_lowp\":0.862500"), std::string::npos);
}

TEST(RoundColumns, JsonRowsUseTheHeaderNamesAndNullForEmptyOrNonFinite) {
  round_row row = sample_row();
  row.rec.train_loss = std::nan("");
  EXPECT_EQ(rounds_json_object(row),
            "{\"round\":7,\"sim_time_s\":12.345678901,\"wall_time_s\":1.250,\"train_loss\":null,"
            "\"test_loss\":0.250000,\"test_acc\":0.875000,\"val_loss\":null,\"val_acc\":null,"
            "\"selected\":5,\"participants\":4,\"dropped\":1,\"late\":0,\"bytes_up\":1000,"
            "\"bytes_down\":2000,\"forward_passes\":404,\"wasted_forward_passes\":0,"
            "\"stale_mean\":1.5000,\"stale_max\":3,\"grad_cosine\":null,\"grad_norm_ratio\":null,"
            "\"true_grad_norm\":null,\"test_loss_raw\":null,\"test_acc_raw\":null,\"test_loss_"
            "lowp\":null,\"test_acc_lowp\":null,\"node_bytes\":77}");
}

}  // namespace
}  // namespace baffle
