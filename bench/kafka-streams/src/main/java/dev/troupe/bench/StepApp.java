package dev.troupe.bench;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The bench step on Kafka Streams: decode an OrderPlaced (Confluent framing: magic byte, 4-byte
 * schema id, Avro body), write a PaymentCharged with the same key; headers pass through as Kafka
 * Streams forwards them. Arguments: brokers inTopic outTopic applicationId guarantee outSchemaId
 * inSchemaFile outSchemaFile commitIntervalMs.
 */
public final class StepApp {
  private StepApp() {}

  /** Per stream thread: Avro readers, writers and buffers are reused, as a tuned app would. */
  private static final class Codec {
    final GenericDatumReader<GenericRecord> reader;
    final GenericDatumWriter<GenericRecord> writer;
    final Schema outSchema;
    final GenericData.EnumSymbol card;
    final int outId;
    BinaryDecoder decoder;
    BinaryEncoder encoder;
    final ByteArrayOutputStream out = new ByteArrayOutputStream(128);

    Codec(Schema in, Schema outSchema, int outId) {
      this.reader = new GenericDatumReader<>(in);
      this.writer = new GenericDatumWriter<>(outSchema);
      this.outSchema = outSchema;
      this.card = new GenericData.EnumSymbol(outSchema.getField("method").schema(), "CARD");
      this.outId = outId;
    }

    byte[] transform(byte[] value) {
      try {
        decoder = DecoderFactory.get().binaryDecoder(value, 5, value.length - 5, decoder);
        GenericRecord order = reader.read(null, decoder);
        GenericRecord payment = new GenericData.Record(outSchema);
        String orderId = order.get("orderId").toString();
        payment.put("orderId", orderId);
        payment.put("paymentId", "p-" + orderId);
        payment.put("amountCents", order.get("totalCents"));
        payment.put("currency", order.get("currency"));
        payment.put("method", card);
        out.reset();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(outId).array());
        encoder = EncoderFactory.get().binaryEncoder(out, encoder);
        writer.write(payment, encoder);
        encoder.flush();
        return out.toByteArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 9) {
      System.err.println("usage: StepApp brokers inTopic outTopic applicationId guarantee outSchemaId inSchemaFile outSchemaFile commitIntervalMs");
      System.exit(2);
    }
    Schema in = new Schema.Parser().parse(new File(args[6]));
    Schema out = new Schema.Parser().parse(new File(args[7]));
    int outId = Integer.parseInt(args[5]);
    ThreadLocal<Codec> codec = ThreadLocal.withInitial(() -> new Codec(in, out, outId));

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[3]);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args[4]);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.parseLong(args[8]));
    p.put(StreamsConfig.STATE_DIR_CONFIG, System.getProperty("java.io.tmpdir") + "/troupe-bench-streams-" + args[3]);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    StreamsBuilder b = new StreamsBuilder();
    b.stream(args[1], Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .mapValues(v -> codec.get().transform(v))
        .to(args[2], Produced.with(Serdes.String(), Serdes.ByteArray()));

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(5));
      done.countDown();
    }));
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) System.out.println("ready");
      if (now == KafkaStreams.State.ERROR) {
        System.err.println("kafka streams entered ERROR");
        System.exit(1);
      }
    });
    streams.start();
    done.await();
  }
}
