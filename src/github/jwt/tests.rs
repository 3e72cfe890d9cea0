use super::*;
use jsonwebtoken::{DecodingKey, Validation};

#[derive(serde::Deserialize)]
struct Seen {
    iat: i64,
    exp: i64,
    iss: String,
}

#[test]
fn claims_follow_githubs_rules() {
    let key =
        EncodingKey::from_rsa_pem(include_bytes!("../../../fixtures/demo-app-key.pem")).unwrap();
    let jwt = AppJwt::new(1234, key);
    let token = jwt.token().unwrap();
    let decoding =
        DecodingKey::from_rsa_pem(include_bytes!("../../../fixtures/demo-app-key.pub.pem"))
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_required_spec_claims(&["exp", "iat", "iss"]);
    v.set_issuer(&["1234"]);
    let seen = jsonwebtoken::decode::<Seen>(&token, &decoding, &v)
        .unwrap()
        .claims;
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - 61..=now - 59).contains(&seen.iat),
        "iat backdated a minute"
    );
    assert!(seen.exp - seen.iat <= 600, "at most ten minutes");
    assert!(seen.exp > now);
    assert_eq!(seen.iss, "1234");
    assert_eq!(jwt.token().unwrap(), token, "reused while fresh");
}
