{{ config(materialized='incremental', incremental_strategy='append', format='parquet') }}
select order_id, status, amount, dt
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where dt > (select max(dt) from {{ this }})
{% endif %}
